package pages

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/internal/gojax"
)

// maxCallStackSize bounds the JS call depth of a page VM (a RangeError
// beyond it, as in browsers, whose limit is ~10k). goja has no limit by
// default: a page recursing through native calls (function g() {
// [1].map(g) }) grew the Go stack for the whole render limit and then took
// ~20 s to unwind (found by pages/fuzz_pages_test.go); at this depth it
// fails in milliseconds. Templates, includes and layouts use a few frames
// per level, so real pages stay far below it.
const maxCallStackSize = 2000

// nativeRecheck is how soon an expired render deadline is checked again
// while the page is inside a Go call.
const nativeRecheck = 50 * time.Millisecond

// redirectSignal and timeoutSignal are the values a render is interrupted with.
type (
	redirectSignal struct{}
	timeoutSignal  struct{ after time.Duration }
)

func (t timeoutSignal) String() string {
	return "page render timed out after " + t.after.String()
}

// render runs the page in a pooled VM. The outcome (body, error, redirect,
// response overrides) is in the returned state, for respond.
func (pg *pages) render(e *core.RequestEvent, rt *route, params map[string]string) *renderState {
	v := pg.pool.get()
	st := newRenderState(e, rt, params)

	out, err, healthy := v.run(st, pg.p.config.RenderTimeout)
	if healthy {
		pg.pool.put(v)
	}
	st.out, st.err = out, err
	return st
}

// run renders st in v under the time limit. healthy is false if a Go panic
// escaped, in which case v must not be reused.
func (v *pageVM) run(st *renderState, timeout time.Duration) (out string, err error, healthy bool) {
	var (
		mu       sync.Mutex
		finished bool
	)
	if timeout > 0 {
		// The budget is for JS: while the page waits in one of our Go calls
		// (a sign-in's database write, password hashing, an OAuth2 provider
		// round trip) the deadline is re-checked shortly after instead, so
		// a slow but legitimate write is never cut off half-way.
		var timer *time.Timer
		mu.Lock() // the callback must see timer assigned
		timer = time.AfterFunc(timeout, func() {
			mu.Lock()
			defer mu.Unlock()
			if finished {
				return
			}
			if v.inNative.Load() > 0 {
				timer.Reset(nativeRecheck)
				return
			}
			v.rt.Interrupt(timeoutSignal{after: timeout})
		})
		mu.Unlock()
		defer func() {
			mu.Lock()
			timer.Stop()
			mu.Unlock()
		}()
	}

	defer func() {
		mu.Lock()
		finished = true
		mu.Unlock()
		// Whatever stopped the render (redirect, timeout, a late timer),
		// the VM must not start its next run interrupted.
		v.rt.ClearInterrupt()
		v.reset()

		if r := recover(); r != nil {
			healthy = false
			err = fmt.Errorf("page render panicked: %v", r)
		}
	}()

	out, err = v.render(st)
	return out, err, true
}

// render runs st's middlewares and loaders, renders the page through the
// plugins, wraps it in its layouts and lets the plugins' onResponse take
// over. It returns the response body.
func (v *pageVM) render(st *renderState) (string, error) {
	if err := v.plugins.err; err != nil {
		return "", err // +config.js or a plugin failed to load
	}
	v.st = st
	v.rt.Set("$app", st.e.App)
	api, err := v.newContext(st)
	if err != nil {
		return "", err
	}

	data, proceed, err := v.runChain(st)
	if err != nil {
		return "", err
	}
	if !proceed {
		st.stopped = true // a middleware answered (or not) without next()
		return "", nil
	}
	if data != nil {
		api.Set("data", data)
	}

	out, err := v.renderFile(st, st.route.file, api)
	if err != nil || st.override != nil || st.e.Written() {
		return out, err // a plugin may have streamed the response (SSE): nothing more
	}
	if ct := st.e.Response.Header().Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "text/html") {
		return out, nil
	}
	if looksLikeJSON(out) {
		st.jsonOut = true
		return out, nil
	}
	if out, err = v.applyLayouts(st, out); err != nil {
		return "", err
	}
	return out, v.onResponse(st, out)
}

// renderFile is PocketPages' render step: the content starts empty and
// goes through every plugin's onRender in order (the ejs plugin, in Go,
// renders the files it handles; marked then turns .md into HTML, ...).
func (v *pageVM) renderFile(st *renderState, name string, api *goja.Object) (string, error) {
	content := ""
	for _, p := range v.plugins.list {
		var err error
		switch {
		case p.ejs != nil:
			if p.ejs.handles(name) {
				content, err = v.renderTemplate(name, api)
			}
		case p.onRender != nil:
			content, err = v.callOnRender(st, p, name, content, api)
		}
		if err != nil {
			return "", err
		}
	}
	return content, nil
}

// afterInclude passes an included template's output through the other
// plugins' onRender, as PocketPages' ejs plugin does (so an included .md
// becomes HTML).
func (v *pageVM) afterInclude(name, out string, locals *goja.Object) (string, error) {
	if v.st == nil {
		return out, nil
	}
	for _, p := range v.plugins.list {
		if p.ejs != nil || p.onRender == nil {
			continue
		}
		var err error
		if out, err = v.callOnRender(v.st, p, name, out, locals); err != nil {
			return "", err
		}
	}
	return out, nil
}

// callOnRender calls a JS plugin's onRender({content, api, route, filePath,
// plugins}); a result of undefined or null keeps the content.
func (v *pageVM) callOnRender(st *renderState, p *pagePlugin, name, content string, api *goja.Object) (string, error) {
	ctx := v.rt.NewObject()
	ctx.Set("content", content)
	ctx.Set("api", api)
	ctx.Set("route", v.routeObject(st))
	ctx.Set("filePath", v.absPath(name))
	ctx.Set("plugins", v.pluginObjects())
	res, err := p.onRender(p.obj, ctx)
	if err != nil {
		return "", err
	}
	if res == nil || goja.IsUndefined(res) || goja.IsNull(res) {
		return content, nil
	}
	return res.String(), nil
}

// routeObject is the route plugins see: PocketPages' Route fields that
// plugins read.
func (v *pageVM) routeObject(st *renderState) *goja.Object {
	if st.routeObj != nil {
		return st.routeObj
	}
	r := v.rt.NewObject()
	r.Set("relativePath", st.route.file)
	r.Set("absolutePath", v.absPath(st.route.file))
	r.Set("isStatic", st.route.static)
	abs := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = v.absPath(n)
		}
		return out
	}
	r.Set("layouts", abs(st.route.layouts))
	r.Set("middlewares", abs(st.route.middlewares))
	segments := make([]any, len(st.route.segments))
	for i, s := range st.route.segments {
		seg := map[string]any{"nodeName": s}
		if name, ok := paramName(s); ok {
			seg["paramName"] = name
		}
		segments[i] = seg
	}
	r.Set("segments", segments)
	st.routeObj = r
	return r
}

func (v *pageVM) pluginObjects() []any {
	out := make([]any, len(v.plugins.list))
	for i, p := range v.plugins.list {
		out[i] = p.obj
	}
	return out
}

// absPath is the file's path on disk (plugins see absolute paths, as in
// PocketPages).
func (v *pageVM) absPath(name string) string {
	return filepath.Join(v.pg.rootPath, filepath.FromSlash(name))
}

// pagesName is the inverse of absPath; ok is false outside the pages root.
func (v *pageVM) pagesName(abs string) (string, bool) {
	rel, err := filepath.Rel(v.pg.rootPath, abs)
	if err != nil {
		return "", false
	}
	return cleanName(filepath.ToSlash(rel))
}

func (v *pageVM) rethrow(err error) { gojax.Rethrow(v.rt, err) }
