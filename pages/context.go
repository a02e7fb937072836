package pages

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/internal/gojax"
)

// The per-request context of a page: PocketPages' API (request, params,
// body(), redirect(), response, resolve(), meta(), echo(), env(), store(),
// dbg/info/warn/error, api) plus signInAnonymously()/signOut() bound to the
// request. Templates get its properties as locals (through `with`, like
// ejs), modules get it as their `api` argument.
//
// The functions are created once per VM and act on the VM's current render
// (pageVM.st); only the small objects that hold per-request values are
// created per request.

// renderState is one page render.
type renderState struct {
	e      *core.RequestEvent
	route  *route
	params map[string]string

	status         int
	redirectTo     string
	redirectStatus int
	override       *responseOverride

	file     *fileResponse // response.file(path)
	stopped  bool          // a middleware did not call next(): no page was rendered
	jsonOut  bool          // the page printed JSON: answered as application/json
	handled  bool          // a plugin's onResponse answered
	routeObj *goja.Object  // the route as plugins see it, built on demand

	out string // the rendered body
	err error  // what failed, if anything

	token   string // auth token of the session, as the page sees it
	cookies map[string]any
	meta    map[string]goja.Value
	modules map[string]goja.Value

	api, request *goja.Object
}

func newRenderState(e *core.RequestEvent, rt *route, params map[string]string) *renderState {
	return &renderState{e: e, route: rt, params: params, status: http.StatusOK}
}

// contextNames are the page API functions every context gets (after
// globalApi's entries, so these win over a plugin's globalApi addition of
// the same name; onExtendContextApi runs last and may replace anything).
var contextNames = []string{"redirect", "resolve", "meta", "echo", "env", "store", "stringify", "url", "dbg", "info", "warn", "error", "signInAnonymously", "signOut", "upgradeAnonymous", "deleteAnonymous", "requestUpgradeOTP", "confirmUpgradeOTP", "asset",
	"signIn", "signInWithPassword", "registerWithPassword", "requestOTP", "signInWithOTP", "requestOAuth2Login", "signInWithOAuth2"}

// newContext builds the api object (the template's locals) for st, with
// the plugins' onRequest and onExtendContextApi.
func (v *pageVM) newContext(st *renderState) (*goja.Object, error) {
	rt, e := v.rt, st.e

	st.token = strings.TrimPrefix(e.Request.Header.Get("Authorization"), "Bearer ")
	if e.Auth == nil {
		st.token = ""
	}

	body := v.bodyFunc(st)

	req := rt.NewObject()
	req.Set("method", strings.ToUpper(e.Request.Method))
	req.Set("url", v.urlObject(e.Request.URL))
	req.Set("auth", authValue(e.Auth))
	req.Set("authToken", st.token)
	req.Set("header", v.natives["header"])
	req.Set("cookies", v.natives["cookies"])
	req.Set("body", body)
	req.Set("formData", body)
	req.Set("event", e)
	st.request = req

	res := rt.NewObject()
	res.Set("status", v.natives["status"])
	res.Set("header", v.natives["responseHeader"])
	res.Set("cookie", v.natives["cookie"])
	res.Set("json", v.natives["json"])
	res.Set("html", v.natives["html"])
	res.Set("redirect", v.natives["responseRedirect"])
	res.Set("write", v.natives["write"])
	res.Set("file", v.natives["file"])

	ps := v.plugins
	if ps.hasJS {
		for _, p := range ps.list {
			if p.onRequest == nil {
				continue
			}
			ctx := rt.NewObject()
			ctx.Set("request", req)
			ctx.Set("response", res)
			if _, err := p.onRequest(p.obj, ctx); err != nil {
				return nil, err
			}
		}
	}

	params := rt.NewObject()
	for k, vals := range e.Request.URL.Query() {
		if len(vals) > 0 {
			params.Set(k, vals[0])
		}
	}
	for k, val := range st.params {
		params.Set(k, val) // the route param wins over the query
	}

	api := rt.NewObject()
	if ps.hasJS {
		for _, k := range ps.globalApi.Keys() {
			api.Set(k, ps.globalApi.Get(k))
		}
	}
	api.Set("request", req)
	api.Set("response", res)
	api.Set("params", params)
	api.Set("body", body)
	api.Set("formData", body)
	api.Set("auth", req.Get("auth")) // as onRequest left it
	api.Set("data", rt.NewObject())
	for _, name := range contextNames {
		api.Set(name, v.natives[name])
	}
	api.Set("api", api)
	st.api = api

	if ps.hasJS {
		for _, p := range ps.list {
			if p.onExtendContextApi == nil {
				continue
			}
			ctx := rt.NewObject()
			ctx.Set("api", api)
			ctx.Set("route", v.routeObject(st))
			if _, err := p.onExtendContextApi(p.obj, ctx); err != nil {
				return nil, err
			}
		}
	}
	return api, nil
}

func authValue(r *core.Record) any {
	if r == nil {
		return nil
	}
	return r
}

// current returns the render in progress or throws.
func (v *pageVM) current(name string) *renderState {
	if v.st == nil {
		gojax.Throw(v.rt, gojax.BadArg("Not available outside a page render: %s()", name))
	}
	return v.st
}

// jsRedirect is redirect(path, {status = 302, message}). Unlike PocketPages
// it stops the render: the VM is interrupted, which no try/catch in the page
// can swallow, and the redirect is answered.
func (v *pageVM) jsRedirect(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "redirect")
	st := v.current("redirect")
	target := call.Argument(0).String()
	status, message := http.StatusFound, ""
	switch opts := call.Argument(1).(type) {
	case *goja.Object:
		if s := opts.Get("status"); s != nil && !goja.IsUndefined(s) {
			status = int(s.ToInteger())
		}
		if m := opts.Get("message"); m != nil && !goja.IsUndefined(m) && !goja.IsNull(m) {
			message = m.String()
		}
	default:
		if goja.IsNumber(opts) {
			status = int(opts.ToInteger())
		}
	}
	v.redirect(st, target, status, message)
	return goja.Undefined()
}

func (v *pageVM) redirect(st *renderState, target string, status int, message string) {
	if status < 300 || status > 399 {
		gojax.Throw(v.rt, gojax.BadArg("Invalid redirect status %d: it must be 3xx", status))
	}
	if target == "" {
		gojax.Throw(v.rt, gojax.BadArg("Invalid redirect: empty location"))
	}
	if message != "" {
		if u, err := url.Parse(target); err == nil {
			q := u.Query()
			q.Set("__flash", message)
			u.RawQuery = q.Encode()
			target = u.String()
		}
	}
	st.redirectTo, st.redirectStatus = target, status
	v.rt.Interrupt(redirectSignal{})
}

// jsResolve is resolve(name): _private/name (name, name.js, name.json)
// searched from the page's folder up to the root, run as a CommonJS module
// with the page context as its `api` argument. A module runs once per
// render; every request gets fresh module state.
func (v *pageVM) jsResolve(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "resolve")
	st := v.current("resolve")
	ref := call.Argument(0).String()
	name, ok := v.resolvePrivate(path.Dir(st.route.file), ref, false)
	if !ok {
		gojax.Throw(v.rt, gojax.BadArg("Cannot resolve %q: no such module in a _private folder from the page's folder up to the templates root", ref))
	}
	exported, err := v.loadModule(st, name)
	if err != nil {
		gojax.Rethrow(v.rt, err)
	}
	return exported
}

// loadModule runs the module name (relative to the templates root) once
// per render and returns its module.exports.
func (v *pageVM) loadModule(st *renderState, name string) (goja.Value, error) {
	if exported, ok := st.modules[name]; ok {
		return exported, nil
	}
	c, err := v.src.module(name)
	if err != nil {
		if err == errNotFound {
			return nil, &TemplateError{File: name, Message: "module not found"}
		}
		return nil, err
	}
	fn, err := v.runner.fn(c)
	if err != nil {
		return nil, err
	}
	module := v.rt.NewObject()
	module.Set("exports", v.rt.NewObject())
	if _, err := fn(goja.Undefined(), module, module.Get("exports"), v.require, st.api); err != nil {
		return nil, err
	}
	if st.modules == nil {
		st.modules = map[string]goja.Value{}
	}
	st.modules[name] = module.Get("exports")
	return st.modules[name], nil
}

// jsMeta is meta(key, value?): a per-request key/value map.
func (v *pageVM) jsMeta(call goja.FunctionCall) goja.Value {
	st := v.current("meta")
	key := call.Argument(0).String()
	if len(call.Arguments) > 1 {
		if st.meta == nil {
			st.meta = map[string]goja.Value{}
		}
		st.meta[key] = call.Argument(1)
	}
	if val, ok := st.meta[key]; ok {
		return val
	}
	return goja.Undefined()
}

// text joins values like PocketPages' echo: strings as they are, anything
// else as JSON.
func (v *pageVM) text(args []goja.Value) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if goja.IsString(a) {
			parts[i] = a.String()
			continue
		}
		s, err := v.stringify(goja.Undefined(), a)
		if err != nil || goja.IsUndefined(s) {
			parts[i] = a.String()
		} else {
			parts[i] = s.String()
		}
	}
	return strings.Join(parts, " ")
}

// jsEcho is echo(...values): writes at the current position of the
// template being rendered and returns the text.
func (v *pageVM) jsEcho(call goja.FunctionCall) goja.Value {
	s := v.text(call.Arguments)
	v.echo(s)
	return v.rt.ToValue(s)
}

// jsStore is store(name, value?): PocketBase's app store ($app.store(), as
// in PocketPages), shared by all VMs and by pb_hooks. Values are exported
// to Go on the way in (a JS object cannot be shared between VMs), so
// objects come back as copies.
func (v *pageVM) jsStore(call goja.FunctionCall) goja.Value {
	name := call.Argument(0).String()
	store := v.pg.p.app.Store()
	if len(call.Arguments) > 1 && !goja.IsUndefined(call.Argument(1)) {
		store.Set(name, call.Argument(1).Export())
	}
	val, ok := store.GetOk(name)
	if !ok {
		return goja.Undefined()
	}
	return v.rt.ToValue(val)
}

func (v *pageVM) logger(level string) func(call goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		log := v.pg.p.app.Logger()
		if level == "dbg" && !(v.plugins != nil && v.plugins.debug) && !log.Enabled(context.Background(), slog.LevelDebug) {
			return goja.Undefined() // not logged: skip formatting (dbg({...}) is common in pages)
		}
		msg := v.text(call.Arguments)
		if v.st != nil {
			log = log.With("page", v.st.route.file)
		}
		switch level {
		case "dbg":
			if v.plugins != nil && v.plugins.debug {
				log.Info(msg, "dbg", true) // +config.js debug: true makes dbg() visible
			} else {
				log.Debug(msg)
			}
		case "info":
			log.Info(msg)
		case "warn":
			log.Warn(msg)
		default:
			log.Error(msg)
		}
		return goja.Undefined()
	}
}
