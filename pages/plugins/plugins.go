// Package plugins holds PocketGuest's built-in versions of PocketPages'
// official plugins (pocketpages-plugin-js-sdk, -auth, -realtime, -datastar,
// -marked, -micro-dash). A `+config.js` that names one of them gets ours, with
// no node_modules folder needed:
//
//	// pb_hooks/pages/+config.js
//	module.exports = {
//	  plugins: ['pocketpages-plugin-ejs', 'pocketpages-plugin-js-sdk', 'pocketpages-plugin-auth'],
//	}
//
// Contract with the pages engine (package pages), which imports this package
// (never the other way round):
//
//   - Module(name) gives the CommonJS source a require(name) resolves to. Each
//     plugin module exports a PocketPages plugin factory
//     `(config, extra) => ({name, onRequest, handles, onRender,
//     onExtendContextApi, onResponse})`, exactly as the npm packages do, so the
//     engine's plugin host treats a built-in plugin and a user's own plugin the
//     same way. The sources are the js/*.js files of this package, one per
//     plugin.
//   - Bind(vm, env) installs, once per page VM and before the module sources
//     run, the Go natives those sources call (in-process dispatch for pb(),
//     the realtime broker, Markdown, Datastar SSE). They live in one global,
//     [NativesGlobal], so a page VM's set of globals grows by one name.
//
// What the modules need from the engine (PocketPages' own behaviour; the
// test host in host_test.go drives them exactly so):
//
//  1. Bind(vm, env) runs on every page VM before any module source, and
//     before the VM's list of base globals is taken (it adds one global).
//     env.Handler returns the router's http.Handler once serving (nil
//     before: pb() then throws a clear error).
//  2. factory(config, extra): config = {pagesRoot, config, globalApi,
//     routes, dbg}. What a factory assigns to config.globalApi (pb,
//     createUser, forEach, ...) is on every page's api and template locals.
//  3. onExtendContextApi({api, route}) runs once per request, before the
//     page's middlewares and template, on the request's own api object;
//     what a plugin sets there (api.pb, api.realtime, api.datastar,
//     api.registerWithPassword, ...) is what the page's locals see.
//  4. api.request.event is the request's *core.RequestEvent;
//     api.request.auth / api.request.authToken are the session, kept
//     current after a sign-in or upgrade in the same render;
//     request.header(name) and request.url.query as in PocketPages.
//  5. api.meta, api.asset and the engine's sign-in globals are on api
//     before onExtendContextApi runs: the auth plugin calls
//     api.upgradeAnonymous(input) and api.signInWithPassword(email,
//     password, options), and wraps api.requestOTP and
//     api.requestOAuth2Login (PocketPages' defaults: OTP sign-up, confirm
//     page /auth/oauth/confirm).
//  6. onRender({content, api, filePath, route, plugins}) runs, in plugin
//     order, after EJS for the page, for each layout and for each include
//     (filePath = the included file, as pocketpages-plugin-ejs does):
//     marked converts .md output (pages and .md partials such as the docs
//     starter's toc.md); datastar sends a page rendered for a Datastar
//     request as an SSE event.
//  7. Streaming: datastar.patchElements/patchSignals/executeScript write
//     server-sent events straight to e.Response (datastar-go flushes the
//     headers, Content-Type text/event-stream, on the first event), as
//     PocketPages' echo writes to the response. After the render — and on
//     an error during it — the engine must check e.Written() and, when
//     true, write nothing more: no layout, no body, no error page
//     (PocketPages stops the same way on a non-HTML Content-Type).
//  8. pocketpages-plugin-ejs is the engine's own renderer: Module does not
//     provide it.
package plugins

import (
	"embed"
	"net/http"
	"strings"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
)

// Env is what the natives need from the app.
type Env struct {
	// App is the PocketBase app.
	App core.App

	// Handler returns PocketBase's router as an http.Handler (built once at
	// OnServe by the engine); pb() dispatches through it in-process so API
	// rules apply exactly as over HTTP. It returns nil before the server
	// starts.
	Handler func() http.Handler
}

// NativesGlobal is the one global Bind sets: the Go side of the built-in
// modules. It is not an API for pages.
const NativesGlobal = "__pocketguestPlugins"

//go:embed js/*.js
var sources embed.FS

// modules maps a require() name to its source file in js/.
var modules = map[string]string{
	"pocketpages-plugin-js-sdk":     "js/js-sdk.js",
	"pocketpages-plugin-auth":       "js/auth.js",
	"pocketpages-plugin-realtime":   "js/realtime.js",
	"pocketpages-plugin-datastar":   "js/datastar.js",
	"pocketpages-plugin-marked":     "js/marked.js",
	"pocketpages-plugin-micro-dash": "js/micro-dash.js",
}

// Names lists the require() names that resolve to built-in modules.
func Names() []string {
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	return names
}

// Module reports the CommonJS source of the built-in module that
// require(name) resolves to; ok is false for names that are not built in.
// The packages' entry files ("<name>/index.js", "<name>/dist/index.js")
// resolve too, so a project that requires one directly still gets ours.
func Module(name string) (source string, ok bool) {
	file, ok := modules[normalizeName(name)]
	if !ok {
		return "", false
	}
	raw, err := sources.ReadFile(file)
	if err != nil {
		return "", false // unreachable: the files are embedded
	}
	return string(raw), true
}

func normalizeName(name string) string {
	for _, suffix := range []string{"/dist/index.js", "/dist/index.cjs", "/index.js"} {
		name = strings.TrimSuffix(name, suffix)
	}
	return name
}

// Bind installs the natives the built-in modules call on one VM. The VM
// must have PocketBase's field name mapper and $security (pbjsvm.BindCore,
// pbjsvm.BindSecurity), as every page VM has: the modules read record.id
// and call $security.randomStringWithAlphabet.
func Bind(vm *goja.Runtime, env Env) error {
	n := &natives{vm: vm, env: env}
	obj := vm.NewObject()
	for name, fn := range map[string]any{
		// js-sdk
		"send":         n.send,
		"newAuthToken": n.newAuthToken,
		"tokenPayload": n.tokenPayload,
		// auth
		"isGuest":                  n.isGuest,
		"upgradeSendsVerification": n.upgradeSendsVerification,
		// realtime
		"realtimeClient": n.realtimeClient,
		"realtimeSend":   n.realtimeSend,
		// datastar
		"sse":         n.sse,
		"readSignals": n.readSignals,
		// marked
		"markdown": n.markdown,
	} {
		if err := obj.Set(name, fn); err != nil {
			return err
		}
	}
	return vm.Set(NativesGlobal, obj)
}

// natives are the Go functions of one VM.
type natives struct {
	vm  *goja.Runtime
	env Env
}

// throwError throws err in the VM as a JS Error (message only; the Go error
// is kept as its `value` property for code that wants it).
func (n *natives) throwError(err error) {
	panic(n.vm.NewGoError(err))
}
