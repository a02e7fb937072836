package plugins

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// The test host: a goja VM set up like a page VM (PocketBase's binds, then
// Bind), and a few lines of JS that drive plugins the way PocketPages'
// loadPlugins and MiddlewareHandler do: factory(config, extra) once, then
// per request a fresh api ({...globalApi, request, response, meta, echo,
// asset}), onRequest, onExtendContextApi, and onRender for a file. It is the
// contract of plugins.go seen from the engine's side, without the engine
// (which imports this package).

const hostJS = `
(function () {
  const globalApi = {
    stringify: (v) => JSON.stringify(v),
    dbg: () => {}, info: () => {}, warn: () => {}, error: () => {},
  }
  const plugins = []
  return {
    globalApi,
    plugins,
    load(factory, extra) {
      const config = { pagesRoot: '/pages', config: { debug: false }, globalApi, routes: [], dbg: () => {} }
      const plugin = factory(config, extra || {})
      plugins.push(plugin)
      return plugin
    },
    // newApi is one request's api; engine holds the page globals the engine
    // provides (signInWithPassword, upgradeAnonymous, ...).
    newApi(req, res, engine) {
      const meta = {}
      const api = Object.assign({}, globalApi, engine || {}, {
        request: req,
        response: res,
        params: {},
        auth: req.auth,
        meta: (key, value) => { if (value !== undefined) meta[key] = value; return meta[key] },
        asset: (path) => '/fp/' + path,
        echo: (...args) => res.write(args.join(' ')),
      })
      api.api = api
      for (const p of plugins) p.onRequest && p.onRequest({ request: req, response: res })
      for (const p of plugins) p.onExtendContextApi && p.onExtendContextApi({ api, route: {} })
      return api
    },
    render(api, filePath, content) {
      return plugins.reduce((content, p) => {
        const out = p.onRender && p.onRender({ content, api, filePath, route: {}, plugins })
        return out === undefined ? content : out
      }, content)
    },
    // run runs code with the api's properties as locals, like a page.
    run(api, code) {
      return new Function('api', 'with (api) { ' + code + ' }')(api)
    },
  }
})()
`

type testHost struct {
	t    testing.TB
	vm   *goja.Runtime
	env  Env
	host *goja.Object
}

// pluginItem is one entry of +config.js plugins.
type pluginItem struct {
	name  string
	extra map[string]any
}

func newTestHost(t testing.TB, env Env, items ...pluginItem) *testHost {
	t.Helper()
	vm := goja.New()
	pbjsvm.BindCore(vm) // PocketBase's field name mapper, as every page VM
	pbjsvm.BindSecurity(vm)
	vm.Set("$app", env.App)
	if err := Bind(vm, env); err != nil {
		t.Fatal(err)
	}
	hostVal, err := vm.RunString(hostJS)
	if err != nil {
		t.Fatal(err)
	}
	h := &testHost{t: t, vm: vm, env: env, host: hostVal.ToObject(vm)}
	for _, item := range items {
		h.load(item.name, item.extra)
	}
	return h
}

// require runs a built-in module as CommonJS and returns module.exports.
func (h *testHost) require(name string) goja.Value {
	h.t.Helper()
	src, ok := Module(name)
	if !ok {
		h.t.Fatalf("no built-in module %q", name)
	}
	fn, err := h.vm.RunScript(name, "(function (module, exports) {"+src+"\n})")
	if err != nil {
		h.t.Fatal(err)
	}
	call, _ := goja.AssertFunction(fn)
	module := h.vm.NewObject()
	module.Set("exports", h.vm.NewObject())
	if _, err := call(goja.Undefined(), module, module.Get("exports")); err != nil {
		h.t.Fatal(err)
	}
	return module.Get("exports")
}

// load resolves a plugin like PocketPages' loadFactory (module.default ??
// module) and calls its factory.
func (h *testHost) load(name string, extra map[string]any) *goja.Object {
	h.t.Helper()
	exports := h.require(name).ToObject(h.vm)
	factory := exports.Get("default")
	if factory == nil || goja.IsUndefined(factory) {
		factory = exports
	}
	return h.call("load", factory, h.vm.ToValue(extra)).ToObject(h.vm)
}

func (h *testHost) call(method string, args ...any) goja.Value {
	h.t.Helper()
	fn, ok := goja.AssertFunction(h.host.Get(method))
	if !ok {
		h.t.Fatalf("host has no %s", method)
	}
	vals := make([]goja.Value, len(args))
	for i, a := range args {
		vals[i] = h.vm.ToValue(a)
	}
	v, err := fn(goja.Undefined(), vals...)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// page is one request as a page sees it.
type page struct {
	h   *testHost
	e   *core.RequestEvent
	rec *httptest.ResponseRecorder
	api *goja.Object
	req *goja.Object
}

// newPage builds the api for e (request fields as the engine sets them)
// and runs onRequest and onExtendContextApi. engine holds page globals the
// engine provides, if the test needs some.
func (h *testHost) newPage(e *core.RequestEvent, rec *httptest.ResponseRecorder, engine map[string]any) *page {
	h.t.Helper()
	vm := h.vm
	req := vm.NewObject()
	req.Set("event", e)
	req.Set("method", e.Request.Method)
	req.Set("auth", authOrNull(e.Auth))
	req.Set("authToken", strings.TrimPrefix(e.Request.Header.Get("Authorization"), "Bearer "))
	req.Set("header", func(name string) string { return e.Request.Header.Get(name) })
	url := vm.NewObject()
	url.Set("pathname", e.Request.URL.Path)
	query := vm.NewObject()
	for k, v := range e.Request.URL.Query() {
		query.Set(k, v[0])
	}
	url.Set("query", query)
	req.Set("url", url)

	res := vm.NewObject()
	res.Set("header", func(name string, value goja.Value) string {
		if !goja.IsUndefined(value) {
			e.Response.Header().Set(name, value.String())
		}
		return e.Response.Header().Get(name)
	})
	res.Set("write", func(s string) { fmt.Fprint(e.Response, s) })

	p := &page{h: h, e: e, rec: rec, req: req}
	p.api = h.call("newApi", req, res, engine).ToObject(vm)
	return p
}

// run runs page code (a function body) with the api as locals.
func (p *page) run(code string) (goja.Value, error) {
	fn, _ := goja.AssertFunction(p.h.host.Get("run"))
	return fn(goja.Undefined(), p.api, p.h.vm.ToValue(code))
}

// mustRun is run that fails the test on an exception.
func (p *page) mustRun(code string) goja.Value {
	p.h.t.Helper()
	v, err := p.run(code)
	if err != nil {
		p.h.t.Fatal(err)
	}
	return v
}

// render runs the onRender hooks for filePath.
func (p *page) render(filePath, content string) string {
	p.h.t.Helper()
	return p.h.call("render", p.api, filePath, content).String()
}

// signedIn makes the page's request carry record's session.
func (p *page) signedIn(record *core.Record, token string) {
	p.e.Auth = record
	p.e.Request.Header.Set("Authorization", token)
	p.req.Set("auth", record)
	p.req.Set("authToken", token)
}

func authOrNull(r *core.Record) any {
	if r == nil {
		return nil
	}
	return r
}

// ---------------------------------------------------------------------------
// A real PocketBase behind the natives.

// testEnv is a PocketBase test app (PocketBase's test data: auth collection
// "users" with test@example.com / 1234567890, and more), guest accounts on
// for "users", and its router built as the server builds it, for pb().
type testEnv struct {
	app *tests.TestApp
	mux http.Handler
	Env
}

func newTestEnv(t testing.TB, setup func(app *tests.TestApp)) *testEnv {
	t.Helper()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	if setup != nil {
		setup(app)
	}
	anonauth.MustRegister(app, anonauth.Config{Collections: []string{"users"}, RateLimit: -1})

	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	te := &testEnv{app: app}
	err = app.OnServe().Trigger(&core.ServeEvent{App: app, Router: r}, func(se *core.ServeEvent) error {
		te.mux, err = se.Router.BuildMux()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	te.Env = Env{App: app, Handler: func() http.Handler { return te.mux }}
	return te
}

// event is a page request: method and target, optional "Name: value"
// headers, with PocketBase's rereadable body as the router gives it.
func (te *testEnv) event(method, target, body string, headers ...string) (*core.RequestEvent, *httptest.ResponseRecorder) {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.Body = &router.RereadableReadCloser{ReadCloser: req.Body}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{App: te.app}
	e.Request = req
	e.Response = &router.ResponseWriter{ResponseWriter: rec} // as the router wraps it: e.Written() works
	return e, rec
}

// rest calls the REST API over the router, as a browser would.
func (te *testEnv) rest(method, target, body, token string) *httptest.ResponseRecorder {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	rec := httptest.NewRecorder()
	te.mux.ServeHTTP(rec, req)
	return rec
}

// user returns a user of the test data and a token for it.
func (te *testEnv) user(t testing.TB, email string) (*core.Record, string) {
	t.Helper()
	record, err := te.app.FindAuthRecordByEmail("users", email)
	if err != nil {
		t.Fatal(err)
	}
	token, err := record.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return record, token
}
