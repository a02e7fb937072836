package pages

import (
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
	"github.com/pocketbase/pocketbase/tools/template"

	"github.com/pocketguest/pocketguest/internal/gojax"
	"github.com/pocketguest/pocketguest/pages/plugins"
)

// pageVM is a pooled VM with the page API bound and the plugins of
// +config.js loaded.
type pageVM struct {
	*runner
	pg *pages
	st *renderState // the render in progress, nil when idle

	plugins      *pluginSet                  // loaded once per VM
	ejsInstances map[*goja.Object]*ejsPlugin // plugin objects the ejs factory made
	requireAt    goja.Callable               // require() from the pages root

	baseGlobals map[string]bool // globals after setup; others are leaks
	app         goja.Value      // the default $app
	stringify   goja.Callable   // JSON.stringify

	natives map[string]goja.Value // the context functions, created once

	inNative atomic.Int32 // > 0 while in a slow Go call (see enterNative)
}

// enterNative marks a slow Go call (sign-ins, auth helpers) so the render
// time limit does not interrupt the page half-way through it; call the
// returned function when done: defer v.enterNative()().
func (v *pageVM) enterNative() func() {
	v.inNative.Add(1)
	return func() { v.inNative.Add(-1) }
}

// sharedTemplates is the $template registry of every page VM (PocketBase's
// own hooks have one per pool too).
var sharedTemplates = template.NewRegistry()

// newVM builds a page VM: PocketBase's hook globals, the caller's InitVM
// (the pb_hooks globals), the built-in plugins' natives, the page API, and
// the plugins of +config.js.
func (pg *pages) newVM() *pageVM {
	p := pg.p
	hooksDir, _ := filepath.Abs(p.config.HooksDir)

	// A registry per VM: its native modules ("pocketpages",
	// "pocketpages-plugin-ejs") are bound to this VM's page API.
	registry := new(require.Registry)
	rt := gojax.NewHooksLikeVM(p.app, registry, hooksDir, sharedTemplates)
	rt.SetMaxCallStackSize(maxCallStackSize)
	if p.config.InitVM != nil {
		p.config.InitVM(rt)
	}

	v := &pageVM{runner: newRunner(rt, pg.src), pg: pg, app: rt.Get("$app")}
	v.stringify, _ = goja.AssertFunction(rt.Get("JSON").ToObject(rt).Get("stringify"))
	v.bindNatives()

	if err := plugins.Bind(rt, plugins.Env{App: p.app, Handler: pg.api.httpHandler}); err != nil {
		v.plugins = &pluginSet{err: &SetupError{File: "pages/plugins", Err: err}}
	} else {
		registry.RegisterNativeModule(pocketpagesModule, v.pocketpagesModule)
		registry.RegisterNativeModule(ejsPluginModule, v.ejsPluginModule)
		v.plugins = v.loadPlugins()
	}
	for _, p := range v.plugins.list {
		if p.ejs != nil {
			v.templateExts = p.ejs.extensions
		}
		if p.onRender != nil {
			v.runner.afterInclude = v.afterInclude
		}
	}

	v.baseGlobals = map[string]bool{}
	for _, k := range rt.GlobalObject().Keys() {
		v.baseGlobals[k] = true
	}
	return v
}

// bindNatives creates the page API functions (once per VM; they act on the
// render in progress) and the request-bound sign-in globals.
func (v *pageVM) bindNatives() {
	rt := v.rt
	signIn := rt.ToValue(v.jsSignIn)
	signOutFn := rt.ToValue(v.jsSignOut)
	upgrade := rt.ToValue(v.jsUpgrade)
	deleteFn := rt.ToValue(v.jsDeleteAnonymous)
	requestCode := rt.ToValue(v.jsRequestUpgradeOTP)
	confirmCode := rt.ToValue(v.jsConfirmUpgradeOTP)
	// The globals too, so page modules (resolve) can call them without e.
	rt.Set("signInAnonymously", signIn)
	rt.Set("signOut", signOutFn)
	rt.Set("upgradeAnonymous", upgrade)
	rt.Set("deleteAnonymous", deleteFn)
	rt.Set("requestUpgradeOTP", requestCode)
	rt.Set("confirmUpgradeOTP", confirmCode)

	v.natives = map[string]goja.Value{
		"signInAnonymously": signIn,
		"signOut":           signOutFn,
		"upgradeAnonymous":  upgrade,
		"deleteAnonymous":   deleteFn,
		"requestUpgradeOTP": requestCode,
		"confirmUpgradeOTP": confirmCode,
		"redirect":          rt.ToValue(v.jsRedirect),
		"resolve":           rt.ToValue(v.jsResolve),
		"meta":              rt.ToValue(v.jsMeta),
		"echo":              rt.ToValue(v.jsEcho),
		"env":               rt.ToValue(func(name string) string { return os.Getenv(name) }),
		"store":             rt.ToValue(v.jsStore),
		"stringify":         rt.ToValue(v.jsStringify),
		"url":               rt.ToValue(v.jsURL),
		"dbg":               rt.ToValue(v.logger("dbg")),
		"info":              rt.ToValue(v.logger("info")),
		"warn":              rt.ToValue(v.logger("warn")),
		"error":             rt.ToValue(v.logger("error")),
		"header":            rt.ToValue(func(name string) string { return v.st.e.Request.Header.Get(name) }),
		"cookies":           rt.ToValue(v.jsCookies),
		"body":              rt.ToValue(v.jsBody),
		"urlToString":       rt.ToValue(func(call goja.FunctionCall) goja.Value { return call.This.ToObject(rt).Get("href") }),
		"urlBuild":          rt.ToValue(func(call goja.FunctionCall) goja.Value { return rt.ToValue(v.buildURL(call.This.ToObject(rt))) }),
		"status":            rt.ToValue(v.jsStatus),
		"responseHeader":    rt.ToValue(v.jsResponseHeader),
		"cookie":            rt.ToValue(v.jsCookie),
		"json":              rt.ToValue(v.jsJSON),
		"html":              rt.ToValue(v.jsHTML),
		"responseRedirect":  rt.ToValue(v.jsResponseRedirect),
		"write":             rt.ToValue(v.jsWrite),
		"file":              rt.ToValue(v.jsFile),
		"asset":             rt.ToValue(v.jsAsset),
		// auth helpers (auth.go)
		"signIn":               rt.ToValue(v.jsSignInWith),
		"signInWithPassword":   rt.ToValue(v.jsSignInWithPassword),
		"registerWithPassword": rt.ToValue(v.jsRegisterWithPassword),
		"requestOTP":           rt.ToValue(v.jsRequestOTP),
		"signInWithOTP":        rt.ToValue(v.jsSignInWithOTP),
		"requestOAuth2Login":   rt.ToValue(v.jsRequestOAuth2Login),
		"signInWithOAuth2":     rt.ToValue(v.jsSignInWithOAuth2),
	}
}

// reset makes the VM ready for the next render: no request, default $app,
// and no globals left behind by sloppy-mode assignments in a template.
func (v *pageVM) reset() {
	v.st = nil
	v.frames = v.frames[:0]
	v.rt.Set("$app", v.app)
	global := v.rt.GlobalObject()
	for _, k := range global.Keys() {
		if !v.baseGlobals[k] {
			global.Delete(k)
		}
	}
}
