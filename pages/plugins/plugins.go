// Package plugins holds PocketGuest's built-in versions of PocketPages'
// official plugins (pocketpages-plugin-js-sdk, -auth, -realtime, -datastar,
// -marked, -micro-dash). A `+config.js` that names one of them gets ours, with
// no node_modules folder needed.
//
// Contract with the pages engine (package pages), which imports this package
// (never the other way round):
//
//   - Module(name) gives the CommonJS source a require(name) resolves to. Each
//     plugin module exports a PocketPages plugin factory
//     `(config, extra) => ({name, onRequest, handles, onRender,
//     onExtendContextApi, onResponse})`, exactly as the npm packages do, so the
//     engine's plugin host treats a built-in plugin and a user's own plugin the
//     same way.
//   - Bind(vm, env) installs, once per page VM, the Go natives the module
//     sources call (in-process dispatch for pb(), the realtime broker,
//     Markdown, Datastar SSE).
package plugins

import (
	"net/http"

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

// Module reports the CommonJS source of the built-in module that
// require(name) resolves to; ok is false for names that are not built in.
func Module(name string) (source string, ok bool) {
	return "", false
}

// Bind installs the natives the built-in modules call on one VM.
func Bind(vm *goja.Runtime, env Env) error {
	return nil
}
