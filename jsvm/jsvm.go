// Package jsvm is PocketGuest's JavaScript side: it registers PocketBase's
// own jsvm plugin (pb_hooks, pb_migrations) with the guest-account globals
// added to every JS VM, and serves server-side EJS templates from a
// templates/ directory with a PocketPages-compatible page router.
//
// In pb_hooks, every VM gets:
//
//	signInAnonymously(e, {collection: "users", fresh: false}) // → {token, record}
//	signOut(e)
//
// Both are thin adapters over the Go core (package anonauth): the record is
// created in-process, e.Auth is set and the pb_auth cookie is written to e's
// response. Errors are ordinary catchable exceptions with .message and
// .status (the HTTP status of the underlying *router.ApiError).
//
// Templates (default pb_data/../templates) are EJS files routed by their
// path: index.ejs → /, checkout/index.ejs → /checkout, products/[id].ejs →
// /products/abc with params.id. Files and folders starting with _, + or -
// are never routed, (group) folders vanish from URLs and other files are
// served as static files. /api/* and /_/ always belong to PocketBase. A page
// sees PocketPages' per-request globals (request, params, body(), redirect(),
// response, resolve(), ...) plus signInAnonymously(options?) and signOut()
// bound to the current request, and every PocketBase global ($app, $apis,
// $security, ...). Templates are compiled once to goja programs, cached until
// the file changes and run in a pool of VMs.
//
// Example:
//
//	app := pocketbase.New()
//	anonauth.MustRegister(app, anonauth.Config{})
//	jsvm.MustRegister(app, jsvm.Config{
//		Hooks: pbjsvm.Config{HooksWatch: isDev, HooksPoolSize: 15},
//		TemplatesDev: isDev,
//	})
package jsvm

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"
	"github.com/pocketbase/pocketbase/tools/store"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Config defines the options of the plugin. Its zero value works: hooks
// from pb_data/../pb_hooks, templates from pb_data/../templates, production
// error pages, a 5s render limit and 8 pooled page VMs.
type Config struct {
	// Hooks is PocketBase's own jsvm configuration, passed through.
	// Hooks.OnInit still runs for every VM (pb_hooks, migrations and page
	// VMs), after the PocketGuest globals are set, so it may wrap them.
	Hooks pbjsvm.Config

	// Guests is the anonauth plugin the JS globals call.
	//
	// If nil it is looked up with anonauth.FromApp when first needed, so
	// the two plugins may be registered in any order.
	Guests *anonauth.Plugin

	// TemplatesDir is the server-side templates directory.
	//
	// If empty it falls back to "pb_data/../templates". If the directory
	// does not exist when the app starts serving, no page route is added.
	TemplatesDir string

	// TemplatesDev is development mode: template errors are shown in the
	// response with file, line and stack, and new or deleted files are
	// picked up on every request. In production (false) errors are logged
	// and a generic error page is served, and the file list is read once
	// (changed files are still recompiled on the next request).
	TemplatesDev bool

	// RenderTimeout bounds the JS execution time of one page render; a page
	// over it is interrupted and answers 500. A sign-in or auth helper call
	// in progress is not cut off: the limit is checked again when it returns.
	//
	// If zero it falls back to 5s. A negative value disables the limit.
	RenderTimeout time.Duration

	// PoolSize is how many page VMs are kept for reuse. More concurrent
	// renders than that get a one-off VM (slower: ~ms to build).
	//
	// If zero it falls back to 8.
	PoolSize int
}

// MustRegister registers the plugin and panics on error.
func MustRegister(app core.App, config Config) {
	if err := Register(app, config); err != nil {
		panic(err)
	}
}

// Register registers PocketBase's jsvm plugin (with the PocketGuest globals
// in every VM), the TypeScript declarations of those globals and the
// templates page route.
func Register(app core.App, config Config) error {
	p := &plugin{app: app, config: config, store: store.New[string, any](nil)}

	if p.config.TemplatesDir == "" {
		p.config.TemplatesDir = filepath.Join(app.DataDir(), "../templates")
	}
	if p.config.RenderTimeout == 0 {
		p.config.RenderTimeout = 5 * time.Second
	}
	if p.config.PoolSize <= 0 {
		p.config.PoolSize = 8
	}
	if p.config.Hooks.HooksDir == "" {
		p.config.Hooks.HooksDir = filepath.Join(app.DataDir(), "../pb_hooks")
	}
	if p.config.Hooks.TypesDir == "" {
		p.config.Hooks.TypesDir = app.DataDir()
	}

	hooks := p.config.Hooks
	userInit := hooks.OnInit
	p.onInit = func(vm *goja.Runtime) {
		p.bindGlobals(vm)
		if userInit != nil {
			userInit(vm)
		}
	}
	hooks.OnInit = p.onInit

	if err := pbjsvm.Register(app, hooks); err != nil {
		return fmt.Errorf("jsvm: %w", err)
	}

	p.registerTypes()
	p.registerPages()

	return nil
}

type plugin struct {
	app    core.App
	config Config

	onInit func(vm *goja.Runtime) // our globals + the user's OnInit
	store  *store.Store[string, any]
}

// guests returns the anonauth plugin, or nil if none is registered.
func (p *plugin) guests() *anonauth.Plugin {
	if p.config.Guests != nil {
		return p.config.Guests
	}
	return anonauth.FromApp(p.app)
}
