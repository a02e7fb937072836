package plugins

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/starfederation/datastar-go/datastar"
)

// The Go side of pocketpages-plugin-datastar (js/datastar.js): the SSE wire
// format and the signal reader come from datastar-go, the official SDK, so
// the events are byte for byte what Datastar's own servers send.

// sseStoreKey is where a request keeps its event stream (e.Get/e.Set), so
// every datastar.* call of one request writes to the same stream.
const sseStoreKey = "pocketguest.datastar.sse"

// sse is natives.sse(event) → the request's event stream: {patchElements,
// patchSignals, executeScript}. The first call turns the response into an
// SSE stream (headers written and flushed by datastar-go); each event is
// flushed as it is sent.
func (n *natives) sse(v goja.Value) *goja.Object {
	e, ok := v.Export().(*core.RequestEvent)
	if !ok || e == nil {
		panic(n.vm.NewTypeError("datastar: server-sent events need the page's request"))
	}
	gen, _ := e.Get(sseStoreKey).(*datastar.ServerSentEventGenerator)
	if gen == nil {
		gen = datastar.NewSSE(e.Response, e.Request)
		e.Set(sseStoreKey, gen)
	}

	obj := n.vm.NewObject()
	obj.Set("patchElements", func(elements string, opts goja.Value) {
		o := optionsOf(opts)
		var list []datastar.PatchElementOption
		if s := o.str("selector"); s != "" {
			list = append(list, datastar.WithSelector(s))
		}
		if s := o.str("mode"); s != "" {
			mode, err := datastar.ElementPatchModeFromString(s)
			if err != nil {
				panic(n.vm.NewTypeError("datastar.patchElements: invalid mode %q", s))
			}
			list = append(list, datastar.WithMode(mode))
		}
		if s := o.str("namespace"); s != "" {
			ns, err := datastar.NamespaceFromString(s)
			if err != nil {
				panic(n.vm.NewTypeError("datastar.patchElements: invalid namespace %q", s))
			}
			list = append(list, datastar.WithNamespace(ns))
		}
		if o.boolean("useViewTransition") {
			list = append(list, datastar.WithViewTransitions())
		}
		if s := o.str("eventId"); s != "" {
			list = append(list, datastar.WithPatchElementsEventID(s))
		}
		if d := o.millis("retryDuration"); d > 0 {
			list = append(list, datastar.WithRetryDuration(d))
		}
		n.check(gen.PatchElements(elements, list...))
	})
	obj.Set("patchSignals", func(signals string, opts goja.Value) {
		o := optionsOf(opts)
		var list []datastar.PatchSignalsOption
		if o.boolean("onlyIfMissing") {
			list = append(list, datastar.WithOnlyIfMissing(true))
		}
		if s := o.str("eventId"); s != "" {
			list = append(list, datastar.WithPatchSignalsEventID(s))
		}
		if d := o.millis("retryDuration"); d > 0 {
			list = append(list, datastar.WithPatchSignalsRetryDuration(d))
		}
		n.check(gen.PatchSignals([]byte(signals), list...))
	})
	obj.Set("executeScript", func(script string, opts goja.Value) {
		o := optionsOf(opts)
		var list []datastar.ExecuteScriptOption
		if v := o.get("autoRemove"); v != nil && !goja.IsNull(v) {
			list = append(list, datastar.WithExecuteScriptAutoRemove(v.ToBoolean()))
		}
		if v, ok := o.get("attributes").(*goja.Object); ok {
			var attrs []string
			if err := n.vm.ExportTo(v, &attrs); err != nil {
				panic(n.vm.NewTypeError("datastar.executeScript: attributes must be an array of strings"))
			}
			list = append(list, datastar.WithExecuteScriptAttributes(attrs...))
		}
		if s := o.str("eventId"); s != "" {
			list = append(list, datastar.WithExecuteScriptEventID(s))
		}
		if d := o.millis("retryDuration"); d > 0 {
			list = append(list, datastar.WithExecuteScriptRetryDuration(d))
		}
		n.check(gen.ExecuteScript(script, list...))
	})
	return obj
}

// readSignals is natives.readSignals(event) → the request's signals as JSON
// text ("" when there are none): the `datastar` query parameter of a GET or
// DELETE, the JSON body of any other method (datastar.ReadSignals).
func (n *natives) readSignals(v goja.Value) string {
	e, ok := v.Export().(*core.RequestEvent)
	if !ok || e == nil {
		panic(n.vm.NewTypeError("datastar.readSignals: expects the page's request"))
	}
	var raw json.RawMessage
	if err := datastar.ReadSignals(e.Request, &raw); err != nil {
		n.throwError(errors.New("Failed to unmarshal signals: " + err.Error()))
	}
	return string(raw)
}

// check throws a failed write (the client went away) in the VM.
func (n *natives) check(err error) {
	if err != nil {
		n.throwError(err)
	}
}

// jsOptions reads an optional options object.
type jsOptions struct{ obj *goja.Object }

func optionsOf(v goja.Value) jsOptions {
	obj, _ := v.(*goja.Object)
	return jsOptions{obj}
}

func (o jsOptions) get(name string) goja.Value {
	if o.obj == nil {
		return nil
	}
	v := o.obj.Get(name)
	if v == nil || goja.IsUndefined(v) {
		return nil
	}
	return v
}

func (o jsOptions) str(name string) string {
	if v := o.get(name); v != nil && !goja.IsNull(v) {
		return v.String()
	}
	return ""
}

func (o jsOptions) boolean(name string) bool {
	v := o.get(name)
	return v != nil && v.ToBoolean()
}

// millis reads a duration given in milliseconds, as in PocketPages.
func (o jsOptions) millis(name string) time.Duration {
	if v := o.get(name); v != nil && !goja.IsNull(v) {
		return time.Duration(v.ToFloat()) * time.Millisecond
	}
	return 0
}
