package pages

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// pages serves one pages root. One instance lives per served app (it is
// built in OnServe, when the directory is known to exist).
//
// A request walks, in this order and without coming back:
//
//	serve (this file)   → which file answers: router.go
//	chain.go            → middlewares and loaders
//	render.go           → the page through the plugins' onRender, layouts
//	respond.go          → onResponse, then what is written back
type pages struct {
	p        *plugin
	root     *os.Root
	rootPath string // absolute path of the pages root
	src      *sourceCache
	pool     *vmPool
	table    atomic.Pointer[routeTable]
	kinds    *fileKinds // which files are pages, as the plugins say

	fingerprints fingerprints
	api          internalAPI // PocketBase's router as an http.Handler
}

// pagesRouteId identifies the catch-all route, for apps that want to find
// or unbind it.
const pagesRouteId = "pocketguestPages"

func (p *plugin) registerPages() {
	p.app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: pagesRouteId,
		Func: func(se *core.ServeEvent) error {
			dir := p.pagesRoot()
			if dir == "" {
				return se.Next() // no pages: leave routing to PocketBase
			}
			pg, err := p.newPages(dir)
			if err != nil {
				return fmt.Errorf("pages: %w", err)
			}
			pg.api.router = se.Router
			// "/" is the router's catch-all (PocketBase adds its own 404
			// handler there only if none exists): every more specific
			// route wins over it.
			se.Router.Route("", "/", pg.serve)
			if err := se.Next(); err != nil {
				return err
			}
			// Every route is registered now: build the in-process handler
			// once (pb(), the auth helpers and the route ownership check
			// use it).
			pg.api.build()
			return nil
		},
	})
}

// pagesRoot is the directory to serve: TemplatesDir if it exists, else
// (when TemplatesDir was not set) PocketPages' own pb_hooks/pages. "" if
// there is none.
func (p *plugin) pagesRoot() string {
	isDir := func(dir string) bool {
		info, err := os.Stat(dir)
		return err == nil && info.IsDir()
	}
	if isDir(p.config.TemplatesDir) {
		return p.config.TemplatesDir
	}
	if !p.explicitDir {
		if dir := filepath.Join(p.config.HooksDir, "pages"); isDir(dir) {
			return dir
		}
	}
	return ""
}

func (p *plugin) newPages(dir string) (*pages, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	pg := &pages{p: p, root: root, rootPath: abs, src: newSourceCache(root)}
	p.app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		root.Close()
		return e.Next()
	})

	pg.pool = newVMPool(p.config.PoolSize, pg.newVM)

	// A VM of its own loads +config.js and the plugins now, so a broken
	// configuration is logged at start (pages then answer 500), and then
	// tells the router which files the plugins render.
	probe := pg.newVM()
	if probe.plugins.err != nil {
		probe.plugins.log(p.app)
	}
	pg.kinds = newFileKinds(probe)

	if _, err := pg.routes(true); err != nil {
		return nil, err
	}
	return pg, nil
}

// routes returns the route table, rescanning the directory in dev mode (or
// when forced) so new and deleted files are seen without a restart.
func (pg *pages) routes(rescan bool) (*routeTable, error) {
	if t := pg.table.Load(); t != nil && !rescan {
		return t, nil
	}
	t, err := scanRoutes(pg.root.FS(), pg.kinds.isPage)
	if err != nil {
		return nil, err
	}
	pg.table.Store(t)
	return t, nil
}

// serve is the catch-all route handler: it finds the file for the URL and
// serves it as a static file or renders it as a page.
func (pg *pages) serve(e *core.RequestEvent) error {
	urlPath := e.Request.URL.Path

	table, err := pg.routes(pg.p.config.TemplatesDev)
	if err != nil {
		return err
	}
	rt, params, fingerprint := table.lookup(urlPath)
	if rt == nil || pg.api.ownedByPocketBase(urlPath) {
		return router.NewNotFoundError("", nil)
	}

	if rt.static {
		return pg.serveStatic(e, rt, fingerprint)
	}

	// A page can sign the visitor in, out or up: an unsafe request from
	// another site must be refused whether or not it carries the cookie (a
	// cross-site form post carries no SameSite=Lax cookie, yet could still
	// sign the browser in as a new guest and replace its session).
	if err := pg.p.checkSameOrigin(e.Request); err != nil {
		return err
	}

	res := pg.render(e, rt, params)
	return pg.respond(e, res)
}

// serveStatic answers a file that no plugin renders.
func (pg *pages) serveStatic(e *core.RequestEvent, rt *route, fingerprint string) error {
	if e.Request.Method != http.MethodGet && e.Request.Method != http.MethodHead {
		return router.NewApiError(http.StatusMethodNotAllowed, "Method not allowed.", nil)
	}
	if fingerprint != "" {
		if fingerprint == pg.fingerprints.of(pg.src, rt.file) {
			e.Response.Header().Set("Cache-Control", immutableCache)
		} else {
			// an old fingerprint: serve the current file, but never cache it
			e.Response.Header().Set("Cache-Control", "no-cache")
		}
	}
	if err := e.FileFS(pg.root.FS(), rt.file); err != nil {
		return router.NewNotFoundError("", nil)
	}
	return nil
}

// defaultOriginCheck is the same-origin policy used when no anonauth plugin
// is registered (its own policy, with Config.TrustedOrigins, wins otherwise).
var defaultOriginCheck = http.NewCrossOriginProtection()

// checkSameOrigin refuses (403) an unsafe cross-origin browser request.
func (p *plugin) checkSameOrigin(r *http.Request) error {
	if g := p.guests(); g != nil {
		return g.CheckSameOrigin(r)
	}
	if err := defaultOriginCheck.Check(r); err != nil {
		return router.NewForbiddenError("Cross-site request rejected: unsafe requests must come from the same origin.", nil)
	}
	return nil
}
