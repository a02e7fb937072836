package pages

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/dop251/goja"
)

// Layouts, as in PocketPages: every +layout.ejs from the page's folder up to
// the root wraps the output, innermost first. A layout gets the content in
// `slot` (`<%- slot %>`) and named parts in `slots` / `slot(name)`; a page
// (or inner layout) fills a named slot with a marker:
//
//	<!-- slot:head --><title>Cart</title>
//	<!-- slot:default -->...
//
// Everything after a marker, up to the next marker, is that slot; content
// before the first marker is the default slot unless a slot:default marker
// exists. Layouts are skipped for JSON and non-HTML responses.

var slotMarkerRe = regexp.MustCompile(`<!--\s*slot:(\w+)\s*-->`)

// parseSlots is PocketPages' parseSlots: the named slots and the content
// outside them (trimmed).
func parseSlots(input string) (map[string]string, string) {
	slots := map[string]string{}
	markers := slotMarkerRe.FindAllStringSubmatchIndex(input, -1)
	if len(markers) == 0 {
		return slots, strings.TrimSpace(input)
	}
	var cleaned strings.Builder
	last := 0
	for i, m := range markers {
		end := len(input)
		if i+1 < len(markers) {
			end = markers[i+1][0]
		}
		name := input[m[2]:m[3]]
		content := strings.TrimSpace(input[m[1]:end])
		if content == "" {
			continue
		}
		slots[name] = content
		cleaned.WriteString(input[last:m[0]])
		last = end
	}
	cleaned.WriteString(input[last:])
	return slots, strings.TrimSpace(cleaned.String())
}

// looksLikeJSON reports output PocketPages would answer as JSON (it tries
// JSON.parse on every page): we take only objects and arrays, so a page
// that prints a bare number or string stays HTML.
func looksLikeJSON(s string) bool {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return false
	}
	return json.Valid([]byte(t))
}

// applyLayouts wraps out in the page's layouts.
func (v *pageVM) applyLayouts(st *renderState, out string) (string, error) {
	for _, layout := range st.route.layouts {
		slots, content := parseSlots(out)
		def, ok := slots["default"]
		if !ok {
			def = content
		}

		slotsObj := v.rt.NewObject()
		for name, s := range slots {
			slotsObj.Set(name, s)
		}
		// slot is the default content when printed (<%- slot %>) and a
		// lookup when called (slot('head')).
		slotFn := v.rt.ToValue(func(call goja.FunctionCall) goja.Value {
			if len(call.Arguments) == 0 || goja.IsUndefined(call.Argument(0)) {
				return v.rt.ToValue(def)
			}
			if s, ok := slots[call.Argument(0).String()]; ok {
				return v.rt.ToValue(s)
			}
			return v.rt.ToValue("")
		}).ToObject(v.rt)
		defValue := v.rt.ToValue(def)
		toString := v.rt.ToValue(func(goja.FunctionCall) goja.Value { return defValue })
		_ = slotFn.DefineDataProperty("toString", toString, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		_ = slotFn.DefineDataProperty("valueOf", toString, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)

		st.api.Set("slot", slotFn)
		st.api.Set("slots", slotsObj)

		var err error
		if out, err = v.renderFile(st, layout, st.api); err != nil {
			return "", err
		}
	}
	return out, nil
}
