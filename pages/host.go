package pages

import (
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/pages/plugins"
)

// The plugin host: +config.js and PocketPages' plugin API.
//
// pages/+config.js exports {plugins, debug} (or a function of globalApi
// returning it). A plugin item is a module name ('pocketpages-plugin-ejs'),
// {name, ...options}, a factory function, or {fn, ...options}. Each factory
// is called as factory(config, extra) with config = {pagesRoot, config,
// globalApi, routes, dbg} and extra = the item's options, and returns
// {name, onRequest?, handles?, onRender?, onExtendContextApi?, onResponse?}.
// Without +config.js the plugins are ['pocketpages-plugin-ejs'], as in
// PocketPages.
//
// Unlike PocketPages (which calls the factories again on every request),
// the factories run once per page VM, when the VM is built: a plugin's
// module-level and factory-level state lives as long as the VM, which is
// what the official plugins expect (js-sdk keeps a client cache there).
//
// require() of 'pocketpages' and of the official plugin names resolves to
// built-in modules (they win over node_modules), in page VMs and in
// PocketBase's pb_hooks VMs, so pb_hooks/pocketpages.pb.js loads and a
// project needs no node_modules folder.

const (
	pocketpagesModule = "pocketpages"
	ejsPluginModule   = "pocketpages-plugin-ejs"
	configFile        = "+config.js"
)

// officialPlugins are PocketPages' official plugin packages other than ejs;
// those package plugins builds in are served by it.
var officialPlugins = []string{
	"pocketpages-plugin-auth",
	"pocketpages-plugin-datastar",
	"pocketpages-plugin-js-sdk",
	"pocketpages-plugin-marked",
	"pocketpages-plugin-micro-dash",
	"pocketpages-plugin-realtime",
}

// init registers the built-in modules for every goja_nodejs registry (the
// library asks for init time: registration must not race with require).
// Page VMs override "pocketpages" and the ejs plugin with versions bound to
// the page API.
func init() {
	require.RegisterNativeModule(pocketpagesModule, func(rt *goja.Runtime, module *goja.Object) {
		exports := module.Get("exports").ToObject(rt)
		noop := rt.ToValue(func(goja.FunctionCall) goja.Value { return goja.Undefined() })
		// PocketPages' module registers its router here; ours is in Go.
		exports.Set("AfterBootstrapHandler", noop)
		exports.Set("MiddlewareHandler", noop)
		exports.Set("globalApi", rt.NewObject())
	})
	require.RegisterNativeModule(ejsPluginModule, func(rt *goja.Runtime, module *goja.Object) {
		module.Set("exports", func(goja.FunctionCall) goja.Value {
			panic(rt.NewTypeError("pocketpages-plugin-ejs only runs in the pages engine"))
		})
	})
	for _, name := range officialPlugins {
		if _, ok := plugins.Module(name); ok {
			require.RegisterNativeModule(name, sourceModuleLoader(name))
		}
	}
}

// compiledModules caches the programs of built-in module sources (shared by
// every VM).
var compiledModules sync.Map // name → *goja.Program

// sourceModuleLoader runs the CommonJS source plugins.Module(name) gives.
func sourceModuleLoader(name string) require.ModuleLoader {
	return func(rt *goja.Runtime, module *goja.Object) {
		prg, ok := compiledModules.Load(name)
		if !ok {
			src, _ := plugins.Module(name)
			compiled, err := goja.Compile(name, "(function (module, exports, require) {"+src+"\n})", false)
			if err != nil {
				panic(rt.NewGoError(fmt.Errorf("built-in module %s: %w", name, err)))
			}
			prg, _ = compiledModules.LoadOrStore(name, compiled)
		}
		fnValue, err := rt.RunProgram(prg.(*goja.Program))
		if err != nil {
			panic(err)
		}
		fn, _ := goja.AssertFunction(fnValue)
		if _, err := fn(goja.Undefined(), module, module.Get("exports"), rt.Get("require")); err != nil {
			panic(err)
		}
	}
}

// SetupError is a +config.js or plugin that failed to load: the server
// still starts, the error is logged, and every page answers 500 with it
// (its details only in dev mode).
type SetupError struct {
	File   string // the pages file involved, e.g. "+config.js"
	Plugin string // the plugin's name or module, "" if none
	Err    error
}

func (e *SetupError) Error() string {
	where := e.File
	if e.Plugin != "" {
		where += ": plugin " + e.Plugin
	}
	return where + ": " + e.Err.Error()
}

func (e *SetupError) Unwrap() error { return e.Err }

// pluginSet is the plugins of one VM, in +config.js order.
type pluginSet struct {
	list      []*pagePlugin
	globalApi *goja.Object
	debug     bool  // +config.js debug: dbg() logs at INFO level
	err       error // setup failed: pages answer 500

	hasJS bool // some plugin has a JS hook (else the fast path)
}

// pagePlugin is one plugin instance.
type pagePlugin struct {
	name string
	obj  *goja.Object
	ejs  *ejsPlugin // the built-in renderer, run in Go

	onRequest, handles, onRender, onExtendContextApi, onResponse goja.Callable
}

// log reports a setup error once, at start.
func (ps *pluginSet) log(app core.App) {
	attrs := []any{slog.String("error", ps.err.Error())}
	if se, ok := ps.err.(*SetupError); ok {
		attrs = append(attrs, slog.String("file", se.File), slog.String("plugin", se.Plugin))
	}
	app.Logger().Error("pages: +config.js or a plugin failed to load; every page answers 500 until it is fixed", attrs...)
}

// loadPlugins reads +config.js and instantiates its plugins in this VM.
func (v *pageVM) loadPlugins() *pluginSet {
	ps := &pluginSet{globalApi: v.newGlobalApi()}
	rt := v.rt

	items := []goja.Value{rt.ToValue(ejsPluginModule)}
	config := rt.NewObject()
	if v.src.exists(configFile) {
		cfg, err := v.readConfig(ps.globalApi)
		if err != nil {
			ps.err = &SetupError{File: configFile, Err: err}
			return ps
		}
		config = cfg
		if list, ok := cfg.Get("plugins").(*goja.Object); ok && list != nil {
			items = nil
			if err := rt.ExportTo(list, &items); err != nil {
				ps.err = &SetupError{File: configFile, Err: fmt.Errorf("plugins must be an array")}
				return ps
			}
		}
		if d := cfg.Get("debug"); d != nil {
			ps.debug = d.ToBoolean()
		}
	}
	config.Set("plugins", items)

	for _, item := range items {
		p, label, err := v.instantiate(item, config, ps.globalApi)
		if err != nil {
			ps.err = &SetupError{File: configFile, Plugin: label, Err: err}
			return ps
		}
		if p.ejs == nil {
			ps.hasJS = true
		}
		ps.list = append(ps.list, p)
	}
	return ps
}

// readConfig runs +config.js as a CommonJS module (through require, so its
// own relative requires work) and checks its keys.
func (v *pageVM) readConfig(globalApi *goja.Object) (*goja.Object, error) {
	exported, err := v.requireFromRoot(filepath.Join(v.pg.rootPath, configFile))
	if err != nil {
		return nil, err
	}
	if fn, ok := goja.AssertFunction(exported); ok {
		if exported, err = fn(goja.Undefined(), globalApi); err != nil {
			return nil, err
		}
	}
	cfg, ok := exported.(*goja.Object)
	if !ok || cfg == nil {
		return nil, fmt.Errorf("module.exports must be an object like {plugins: [...]}, got %s", exported)
	}
	for _, k := range cfg.Keys() {
		if k != "plugins" && k != "debug" {
			return nil, fmt.Errorf("invalid config key %q (expected plugins, debug)", k)
		}
	}
	return cfg, nil
}

// requireFromRoot is require(name) as called from a file in the pages root:
// relative names resolve from there, bare names from its node_modules
// folders up (after the built-in modules).
func (v *pageVM) requireFromRoot(name string) (exported goja.Value, err error) {
	if v.requireAt == nil {
		prg, cerr := goja.Compile(filepath.Join(v.pg.rootPath, "+require.js"), "(function (name) { return require(name) })", false)
		if cerr != nil {
			return nil, cerr
		}
		fnValue, rerr := v.rt.RunProgram(prg)
		if rerr != nil {
			return nil, rerr
		}
		v.requireAt, _ = goja.AssertFunction(fnValue)
	}
	if strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../") {
		name = filepath.Join(v.pg.rootPath, filepath.FromSlash(name))
	}
	return v.requireAt(goja.Undefined(), v.rt.ToValue(name))
}

// instantiate normalizes one plugin item as PocketPages does and calls its
// factory. label names the plugin in errors.
func (v *pageVM) instantiate(item goja.Value, config, globalApi *goja.Object) (*pagePlugin, string, error) {
	rt := v.rt
	extra := rt.NewObject()
	extra.Set("debug", false)
	var factory goja.Value
	label := "(plugin)"

	loadFactory := func(name string) error {
		label = name
		mod, err := v.requireFromRoot(name)
		if err != nil {
			if strings.Contains(err.Error(), "Invalid module") {
				return fmt.Errorf("unknown plugin %q: it is not built in and not found in node_modules", name)
			}
			return err
		}
		factory = mod
		if obj, ok := mod.(*goja.Object); ok {
			if def := obj.Get("default"); def != nil && !goja.IsUndefined(def) && !goja.IsNull(def) {
				factory = def
			}
		}
		return nil
	}

	switch {
	case goja.IsString(item):
		if err := loadFactory(item.String()); err != nil {
			return nil, label, err
		}
	default:
		if _, ok := goja.AssertFunction(item); ok {
			factory = item
			if n := item.ToObject(rt).Get("name"); n != nil && n.String() != "" {
				label = n.String()
			}
			break
		}
		obj, ok := item.(*goja.Object)
		if !ok || obj == nil {
			return nil, label, fmt.Errorf("invalid plugin config %s: expected a module name, {name, ...options}, a factory or {fn, ...options}", item)
		}
		if fn := obj.Get("fn"); fn != nil && !goja.IsUndefined(fn) {
			factory = fn
			for _, k := range obj.Keys() {
				if k != "fn" {
					extra.Set(k, obj.Get(k))
				}
			}
			if n := obj.Get("name"); n != nil && !goja.IsUndefined(n) {
				label = n.String()
			}
			break
		}
		name := obj.Get("name")
		if name == nil || goja.IsUndefined(name) {
			return nil, label, fmt.Errorf("invalid plugin config: an object item needs name or fn")
		}
		for _, k := range obj.Keys() {
			if k != "name" {
				extra.Set(k, obj.Get(k))
			}
		}
		if err := loadFactory(name.String()); err != nil {
			return nil, label, err
		}
	}

	fn, ok := goja.AssertFunction(factory)
	if !ok {
		return nil, label, fmt.Errorf("the plugin module does not export a factory function")
	}
	factoryConfig := rt.NewObject()
	factoryConfig.Set("pagesRoot", v.pg.rootPath)
	factoryConfig.Set("config", config)
	factoryConfig.Set("globalApi", globalApi)
	factoryConfig.Set("routes", rt.NewArray())
	factoryConfig.Set("dbg", v.natives["dbg"])

	res, err := fn(goja.Undefined(), factoryConfig, extra)
	if err != nil {
		return nil, label, err
	}
	obj, ok := res.(*goja.Object)
	if !ok || obj == nil {
		return nil, label, fmt.Errorf("the factory returned %s, not a plugin object {name, ...}", res)
	}

	p := &pagePlugin{obj: obj, name: obj.Get("name").String()}
	if p.name != "" && p.name != "undefined" {
		label = p.name
	}
	if e, ok := v.ejsInstances[obj]; ok {
		p.ejs = e
		return p, label, nil
	}
	hook := func(name string) goja.Callable {
		fn, _ := goja.AssertFunction(obj.Get(name))
		return fn
	}
	p.onRequest, p.handles, p.onRender = hook("onRequest"), hook("handles"), hook("onRender")
	p.onExtendContextApi, p.onResponse = hook("onExtendContextApi"), hook("onResponse")
	return p, label, nil
}

// newGlobalApi is PocketPages' globalApi: url, stringify, env, store and
// the log functions. Factories may add to it; every page sees its keys.
func (v *pageVM) newGlobalApi() *goja.Object {
	g := v.rt.NewObject()
	for _, name := range []string{"url", "stringify", "env", "store", "dbg", "info", "warn", "error"} {
		g.Set(name, v.natives[name])
	}
	return g
}

// pocketpagesModule is require('pocketpages') in a page VM.
func (v *pageVM) pocketpagesModule(rt *goja.Runtime, module *goja.Object) {
	exports := module.Get("exports").ToObject(rt)
	noop := rt.ToValue(func(goja.FunctionCall) goja.Value { return goja.Undefined() })
	exports.Set("AfterBootstrapHandler", noop)
	exports.Set("MiddlewareHandler", noop)
	if v.plugins != nil && v.plugins.globalApi != nil {
		exports.Set("globalApi", v.plugins.globalApi)
	} else {
		exports.Set("globalApi", v.newGlobalApi())
	}
	exports.Set("stringify", v.natives["stringify"])
	log := rt.NewObject()
	for _, name := range []string{"dbg", "info", "warn", "error"} {
		log.Set(name, v.natives[name])
	}
	exports.Set("log", log)
}

// isPage reports whether a plugin of the set renders the file (PocketPages'
// handles({route, filePath})).
func (ps *pluginSet) isPage(rt *goja.Runtime, rootPath, name string) bool {
	for _, p := range ps.list {
		if p.ejs != nil {
			if p.ejs.handles(name) {
				return true
			}
			continue
		}
		if p.handles == nil {
			continue
		}
		abs := filepath.Join(rootPath, filepath.FromSlash(name))
		ctx := rt.NewObject()
		ctx.Set("filePath", abs)
		route := rt.NewObject()
		route.Set("relativePath", name)
		route.Set("absolutePath", abs)
		ctx.Set("route", route)
		if res, err := p.handles(p.obj, ctx); err == nil && res.ToBoolean() {
			return true
		}
	}
	return false
}

// fileKinds answers the router's "is this file a page?" from the plugins of
// one VM, once per file extension (plugins decide by extension; a JS
// handles() is asked with a file of that extension).
type fileKinds struct {
	mu      sync.Mutex
	vm      *pageVM
	byExt   map[string]bool
	noPages bool // the plugins failed to load: nothing renders
}

func newFileKinds(v *pageVM) *fileKinds {
	return &fileKinds{vm: v, byExt: map[string]bool{}, noPages: v.plugins.err != nil}
}

func (k *fileKinds) isPage(name string) bool {
	ext := path.Ext(name)
	if k.noPages {
		return ext == ".ejs" // still routed: they answer the setup error
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if is, ok := k.byExt[ext]; ok {
		return is
	}
	is := k.vm.plugins.isPage(k.vm.rt, k.vm.pg.rootPath, name)
	k.byExt[ext] = is
	return is
}
