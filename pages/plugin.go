// Package pages is PocketGuest's server-side pages engine, compatible with
// PocketPages: EJS files under a pages root are routed by their path,
// rendered in pooled goja VMs with PocketPages' per-request API, wrapped in
// their layouts and answered through PocketBase's router.
//
// The pages root is templates/ next to pb_data (TemplatesDir chooses
// another). Files are routed by their path: index.ejs → /,
// checkout/index.ejs → /checkout, products/[id].ejs → /products/abc with
// params.id. Files and folders starting with _, + or - are never routed,
// (group) folders vanish from URLs and other files are served as static
// files. /api/* and /_/ always belong to PocketBase. A page sees
// PocketPages' per-request globals (request, params, body(), redirect(),
// response, resolve(), ...) plus signInAnonymously(options?) and signOut()
// bound to the current request, and every PocketBase global ($app, $apis,
// $security, ...). Templates are compiled once to goja programs, cached
// until the file changes and run in a pool of VMs.
//
// A request walks router.go (which file answers the URL) → chain.go
// (middlewares and loaders) → render.go (the template, then layout.go) →
// response.go (what is written back).
//
// Example:
//
//	app := pocketbase.New()
//	guests := anonauth.MustRegister(app, anonauth.Config{})
//	hooks := jsvm.MustRegister(app, jsvm.Config{Guests: guests})
//	pages.MustRegister(app, pages.Config{
//		Guests:       guests,
//		InitVM:       hooks.InitVM, // page VMs get the pb_hooks globals too
//		TemplatesDev: isDev,
//	})
package pages

import (
	"path/filepath"
	"time"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
	"github.com/pocketguest/pocketguest/internal/gojax"
)

// Defaults of Config: a zero field falls back to the value here, and the
// pocketguest binary's flags take their defaults from these too.
const (
	DefaultRenderTimeout = 5 * time.Second
	// DefaultPoolSize lets 16 renders (the bench's concurrency) run at once
	// without building a VM.
	DefaultPoolSize = 16
)

// Config defines the options of the plugin. Its zero value works: pages
// from pb_data/../templates, production error pages, a 5s render limit and
// 16 pooled page VMs.
type Config struct {
	// TemplatesDir is the pages root.
	//
	// If empty it falls back to "pb_data/../templates" and, when that does
	// not exist, to PocketPages' own "<HooksDir>/pages", so a PocketPages
	// project runs where it stands. If the directory does not exist when
	// the app starts serving, no page route is added.
	TemplatesDir string

	// HooksDir is the pb_hooks directory: the __hooks global of page VMs.
	//
	// If empty it falls back to "pb_data/../pb_hooks".
	HooksDir string

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
	// If zero it falls back to DefaultRenderTimeout (5s). A negative value
	// disables the limit.
	RenderTimeout time.Duration

	// PoolSize is how many page VMs are kept for reuse. More concurrent
	// renders than that get a one-off VM (slower: ~ms to build).
	//
	// If zero it falls back to DefaultPoolSize (16).
	PoolSize int

	// Guests is the anonauth plugin the page globals call.
	//
	// If nil it is looked up with anonauth.FromApp when first needed, so
	// the two plugins may be registered in any order.
	Guests *anonauth.Plugin

	// InitVM, if set, runs on every new page VM after PocketBase's own
	// globals and before the page API is bound (which replaces
	// signInAnonymously and friends with versions bound to the page's
	// request). Pass jsvm's Plugin.InitVM so pages see the pb_hooks globals
	// and the user's OnInit.
	InitVM func(vm *goja.Runtime)
}

// MustRegister registers the plugin and panics on error.
func MustRegister(app core.App, config Config) {
	if err := Register(app, config); err != nil {
		panic(err)
	}
}

// Register registers the page route, added when the app starts serving.
func Register(app core.App, config Config) error {
	p := &plugin{app: app, config: config, explicitDir: config.TemplatesDir != ""}

	if p.config.TemplatesDir == "" {
		p.config.TemplatesDir = filepath.Join(app.DataDir(), "../templates")
	}
	if p.config.HooksDir == "" {
		p.config.HooksDir = filepath.Join(app.DataDir(), "../pb_hooks")
	}
	if p.config.RenderTimeout == 0 {
		p.config.RenderTimeout = DefaultRenderTimeout
	}
	if p.config.PoolSize <= 0 {
		p.config.PoolSize = DefaultPoolSize
	}

	p.registerPages()
	return nil
}

type plugin struct {
	app    core.App
	config Config

	explicitDir bool // TemplatesDir was given: no pb_hooks/pages fallback
}

// guests returns the anonauth plugin, or nil if none is registered.
func (p *plugin) guests() *anonauth.Plugin {
	if p.config.Guests != nil {
		return p.config.Guests
	}
	return anonauth.FromApp(p.app)
}

// requireGuests returns the anonauth plugin, or throws a 500 naming the
// missing setup.
func (p *plugin) requireGuests(vm *goja.Runtime) *anonauth.Plugin {
	return gojax.RequireGuests(vm, p.app, p.config.Guests)
}
