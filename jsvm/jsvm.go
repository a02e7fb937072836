// Package jsvm is PocketGuest's pb_hooks side: it registers PocketBase's own
// jsvm plugin (pb_hooks, pb_migrations) with the guest-account globals added
// to every JS VM, and writes their TypeScript declarations next to
// PocketBase's types.d.ts. The server-side pages engine (templates/ or
// pb_hooks/pages/) is package pages; it gets the same globals in its VMs
// through Plugin.InitVM.
//
// In pb_hooks, every VM gets:
//
//	signInAnonymously(e, {collection: "users", fresh: false}) // → {token, record}
//	signOut(e)
//	upgradeAnonymous(e, {email, password, passwordConfirm, name?})
//	deleteAnonymous(e)
//	onAnonymousLink((e) => { ...; e.next() })
//
// They are thin adapters over the Go core (package anonauth): the record is
// created in-process, e.Auth is set and the pb_auth cookie is written to e's
// response. Errors are ordinary catchable exceptions with .message and
// .status (the HTTP status of the underlying *router.ApiError).
//
// Example:
//
//	app := pocketbase.New()
//	guests := anonauth.MustRegister(app, anonauth.Config{})
//	hooks := jsvm.MustRegister(app, jsvm.Config{
//		Hooks:  pbjsvm.Config{HooksWatch: isDev, HooksPoolSize: 15},
//		Guests: guests,
//	})
//	pages.MustRegister(app, pages.Config{InitVM: hooks.InitVM, TemplatesDev: isDev})
package jsvm

import (
	"fmt"
	"path/filepath"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Config defines the options of the plugin. Its zero value works: hooks
// from pb_data/../pb_hooks and the anonauth plugin looked up from the app.
type Config struct {
	// Hooks is PocketBase's own jsvm configuration, passed through.
	// Hooks.OnInit still runs for every VM (pb_hooks, migrations, and page
	// VMs through InitVM), after the PocketGuest globals are set, so it may
	// wrap them.
	Hooks pbjsvm.Config

	// Guests is the anonauth plugin the JS globals call.
	//
	// If nil it is looked up with anonauth.FromApp when first needed, so
	// the two plugins may be registered in any order.
	Guests *anonauth.Plugin
}

// MustRegister registers the plugin and panics on error.
func MustRegister(app core.App, config Config) *Plugin {
	p, err := Register(app, config)
	if err != nil {
		panic(err)
	}
	return p
}

// Register registers PocketBase's jsvm plugin (with the PocketGuest globals
// in every VM) and the TypeScript declarations of those globals.
func Register(app core.App, config Config) (*Plugin, error) {
	p := &Plugin{app: app, config: config}

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
		return nil, fmt.Errorf("jsvm: %w", err)
	}

	p.registerTypes()

	return p, nil
}

// Plugin is a registered jsvm plugin.
type Plugin struct {
	app    core.App
	config Config

	onInit func(vm *goja.Runtime) // our globals + the user's OnInit
}

// InitVM adds what every pb_hooks VM gets beyond PocketBase's own globals
// (the PocketGuest globals, then the user's Hooks.OnInit) to vm. The pages
// engine calls it on each page VM, so a page sees what a hook sees.
func (p *Plugin) InitVM(vm *goja.Runtime) { p.onInit(vm) }

// HooksDir is the pb_hooks directory in use (the default filled in).
func (p *Plugin) HooksDir() string { return p.config.Hooks.HooksDir }
