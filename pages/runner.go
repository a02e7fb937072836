package pages

import (
	"errors"
	"fmt"
	"html"
	"path"
	"strings"

	"github.com/dop251/goja"

	"github.com/pocketguest/pocketguest/internal/gojax"
)

// runner executes compiled templates and modules in one goja runtime. It
// knows nothing about HTTP: pages.go gives it a request, ejs_ref_test.go runs
// it bare. A runner (like its runtime) is used by one goroutine at a time.
type runner struct {
	rt  *goja.Runtime
	src *sourceCache

	// fns caches the function value each program evaluates to in this
	// runtime; the *compiled pointer changes when the file is recompiled.
	fns map[string]vmFn

	esc     goja.Value // escapeXML, as ejs' escapeFn
	include goja.Value // include(path, data)
	reg     goja.Value // receives the running template's __append
	require goja.Value // the runtime's require(), handed to modules

	frames []frame // templates being rendered, innermost last

	// templateExts are tried, in order, on an include() name without one
	// (the ejs plugin's extensions).
	templateExts []string
	// afterInclude, if set, post-processes an include's output (the other
	// plugins' onRender).
	afterInclude func(name, out string, locals *goja.Object) (string, error)
}

type vmFn struct {
	c  *compiled
	fn goja.Callable
}

// frame is a template being rendered: where its includes are searched from,
// its locals (inherited by includes) and its output (for echo).
type frame struct {
	dir    string
	locals *goja.Object
	append goja.Callable
}

func newRunner(rt *goja.Runtime, src *sourceCache) *runner {
	r := &runner{rt: rt, src: src, fns: map[string]vmFn{}, templateExts: []string{".ejs"}}
	r.esc = rt.ToValue(r.escapeXML)
	r.include = rt.ToValue(r.jsInclude)
	r.reg = rt.ToValue(func(call goja.FunctionCall) goja.Value {
		if fn, ok := goja.AssertFunction(call.Argument(0)); ok && len(r.frames) > 0 {
			r.frames[len(r.frames)-1].append = fn
		}
		return goja.Undefined()
	})
	r.require = rt.Get("require")
	if r.require == nil {
		r.require = goja.Undefined()
	}
	return r
}

// fn returns c's function in this runtime, evaluating the program once.
func (r *runner) fn(c *compiled) (goja.Callable, error) {
	if cached, ok := r.fns[c.name]; ok && cached.c == c {
		return cached.fn, nil
	}
	v, err := r.rt.RunProgram(c.program)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("%s: program is not a function", c.name)
	}
	r.fns[c.name] = vmFn{c: c, fn: fn}
	return fn, nil
}

// renderTemplate renders the template name (relative to the templates
// root) with locals and returns its output.
func (r *runner) renderTemplate(name string, locals *goja.Object) (string, error) {
	c, err := r.src.template(name)
	if err != nil {
		if errors.Is(err, errNotFound) {
			return "", &TemplateError{File: name, Message: "template not found"}
		}
		return "", err
	}
	fn, err := r.fn(c)
	if err != nil {
		return "", err
	}

	r.frames = append(r.frames, frame{dir: path.Dir(name), locals: locals})
	defer func() { r.frames = r.frames[:len(r.frames)-1] }()

	out, err := fn(goja.Undefined(), locals, r.esc, r.include, r.reg)
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// echo appends s to the output of the template being rendered, at the
// current position; it reports false if no template is running.
func (r *runner) echo(s string) bool {
	if len(r.frames) == 0 || r.frames[len(r.frames)-1].append == nil {
		return false
	}
	_, err := r.frames[len(r.frames)-1].append(goja.Undefined(), r.rt.ToValue(s))
	return err == nil
}

// jsInclude is include(path, data): the included template sees the
// includer's locals plus data, and its output is returned (use <%- %>).
func (r *runner) jsInclude(call goja.FunctionCall) goja.Value {
	if len(r.frames) == 0 {
		panic(r.rt.NewTypeError("include() can only be called while a template renders"))
	}
	parent := r.frames[len(r.frames)-1]
	ref := call.Argument(0).String()

	name, ok := r.resolvePrivate(parent.dir, ref, true)
	if !ok {
		panic(r.rt.NewGoError(fmt.Errorf("include(%q): no such template in a _private folder from %q up to the templates root", ref, "/"+parent.dir)))
	}

	locals := r.rt.CreateObject(parent.locals)
	if data, ok := call.Argument(1).(*goja.Object); ok {
		for _, k := range data.Keys() {
			locals.Set(k, data.Get(k))
		}
	}

	out, err := r.renderTemplate(name, locals)
	if err == nil && r.afterInclude != nil {
		out, err = r.afterInclude(name, out, locals)
	}
	if err != nil {
		gojax.Rethrow(r.rt, err)
	}
	return r.rt.ToValue(out)
}

// resolvePrivate finds ref the way PocketPages' include() and resolve() do:
// "/x" is x from the templates root; anything else is looked up as
// _private/ref in dir, then in each parent folder up to the root. For
// templates, ref is tried with each of templateExts (.ejs, or the ejs
// plugin's extensions) and as it is (first when it has an extension); for
// modules ref, ref.js and ref.json.
func (r *runner) resolvePrivate(dir, ref string, template bool) (string, bool) {
	candidates := func(base string) []string {
		if template {
			// The usual include('header') tries header.ejs first: one stat,
			// as before extensions were configurable.
			var out []string
			if path.Ext(base) != "" {
				out = append(out, base)
			}
			for _, ext := range r.templateExts {
				out = append(out, base+ext)
			}
			if path.Ext(base) == "" {
				out = append(out, base)
			}
			return out
		}
		return []string{base, base + ".js", base + ".json"}
	}
	try := func(base string) (string, bool) {
		for _, c := range candidates(base) {
			if name, ok := cleanName(c); ok && r.src.exists(name) {
				return name, true
			}
		}
		return "", false
	}

	if strings.HasPrefix(ref, "/") {
		return try(ref)
	}
	if _, ok := cleanName(ref); !ok {
		return "", false
	}
	for {
		if dir == "." || dir == "/" || dir == "" {
			return try("_private/" + ref)
		}
		if name, ok := try(dir + "/_private/" + ref); ok {
			return name, true
		}
		dir = path.Dir(dir)
	}
}

// escapeXML is ejs' escapeXML: undefined and null render as "", anything
// else is converted with String() and has &<>'" escaped. Strings that need
// no escaping are returned as they are, without copying.
func (r *runner) escapeXML(call goja.FunctionCall) goja.Value {
	v := call.Argument(0)
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return r.rt.ToValue("")
	}
	s := v.String()
	if !strings.ContainsAny(s, `&<>'"`) {
		if goja.IsString(v) {
			return v
		}
		return r.rt.ToValue(s)
	}
	return r.rt.ToValue(html.EscapeString(s)) // the same five entities as npm ejs
}
