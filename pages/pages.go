package pages

import (
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/template"

	"github.com/pocketguest/pocketguest/internal/gojax"
)

// pages serves the templates directory. One instance lives per served app
// (it is built in OnServe, when the directory is known to exist).
type pages struct {
	p     *plugin
	root  *os.Root
	src   *sourceCache
	pool  *vmPool
	table atomic.Pointer[routeTable]

	fingerprints fingerprints
	api          internalAPI // PocketBase's routes, for the auth helpers
}

// pagesRouteId identifies the catch-all route, for apps that want to find
// or unbind it.
const pagesRouteId = "pocketguestPages"

func (p *plugin) registerPages() {
	p.app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: pagesRouteId,
		Func: func(se *core.ServeEvent) error {
			info, err := os.Stat(p.config.TemplatesDir)
			if err != nil || !info.IsDir() {
				return se.Next() // no templates: leave routing to PocketBase
			}
			pg, err := p.newPages()
			if err != nil {
				return fmt.Errorf("pages: %w", err)
			}
			pg.api.router = se.Router
			// "/" is the router's catch-all (PocketBase adds its own 404
			// handler there only if none exists): every more specific
			// route, /api/* and /_/ included, wins over it.
			se.Router.Route("", "/", pg.serve)
			return se.Next()
		},
	})
}

func (p *plugin) newPages() (*pages, error) {
	root, err := os.OpenRoot(p.config.TemplatesDir)
	if err != nil {
		return nil, err
	}
	pg := &pages{p: p, root: root, src: newSourceCache(root)}
	p.app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		root.Close()
		return e.Next()
	})

	if _, err := pg.routes(true); err != nil {
		return nil, err
	}

	hooksDir, _ := filepath.Abs(p.config.HooksDir)
	requireRegistry := new(require.Registry)
	templateRegistry := template.NewRegistry()
	pg.pool = newVMPool(p.config.PoolSize, func() *pageVM {
		vm := gojax.NewHooksLikeVM(p.app, requireRegistry, hooksDir, templateRegistry)
		vm.SetMaxCallStackSize(maxCallStackSize)
		if p.config.InitVM != nil {
			p.config.InitVM(vm)
		}
		return newPageVM(pg, vm)
	})

	return pg, nil
}

// routes returns the route table, rescanning the directory in dev mode (or
// when forced) so new and deleted files are seen without a restart.
func (pg *pages) routes(rescan bool) (*routeTable, error) {
	if t := pg.table.Load(); t != nil && !rescan {
		return t, nil
	}
	t, err := scanRoutes(pg.root.FS())
	if err != nil {
		return nil, err
	}
	pg.table.Store(t)
	return t, nil
}

// serve is the catch-all route handler.
func (pg *pages) serve(e *core.RequestEvent) error {
	urlPath := e.Request.URL.Path
	if isReserved(urlPath) {
		return router.NewNotFoundError("", nil)
	}

	table, err := pg.routes(pg.p.config.TemplatesDev)
	if err != nil {
		return err
	}
	rt, params := table.match(urlPath)
	fingerprint := ""
	if rt == nil {
		// an asset() URL: the file's name with its content fingerprint
		if plain, sum, ok := splitFingerprint(urlPath); ok {
			if r, _ := table.match(plain); r != nil && r.static {
				rt, fingerprint = r, sum
			}
		}
		if rt == nil {
			return router.NewNotFoundError("", nil)
		}
	}

	if rt.static {
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

	// A page can sign the visitor in, out or up: an unsafe request from
	// another site must be refused whether or not it carries the cookie (a
	// cross-site form post carries no SameSite=Lax cookie, yet could still
	// sign the browser in as a new guest and replace its session).
	if err := pg.p.checkSameOrigin(e.Request); err != nil {
		return err
	}

	return pg.render(e, rt, params)
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

// isReserved reports paths that always belong to PocketBase, even if a
// template would match them.
func isReserved(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") || p == "/_" || strings.HasPrefix(p, "/_/")
}

// maxCallStackSize bounds the JS call depth of a page VM (a RangeError
// beyond it, as in browsers, whose limit is ~10k). goja has no limit by
// default: a page recursing through native calls (function g() {
// [1].map(g) }) grew the Go stack for the whole render limit and then took
// ~20 s to unwind (found by pages/fuzz_pages_test.go); at this depth it
// fails in milliseconds. Templates, includes and layouts use a few frames
// per level, so real pages stay far below it.
const maxCallStackSize = 2000

// nativeRecheck is how soon an expired render deadline is checked again
// while the page is inside a Go call.
const nativeRecheck = 50 * time.Millisecond

// redirectSignal and timeoutSignal are the values a render is interrupted with.
type (
	redirectSignal struct{}
	timeoutSignal  struct{ after time.Duration }
)

func (t timeoutSignal) String() string {
	return "page render timed out after " + t.after.String()
}

// render runs the page template in a pooled VM and writes the response.
func (pg *pages) render(e *core.RequestEvent, rt *route, params map[string]string) error {
	v := pg.pool.get()
	st := newRenderState(e, rt, params)

	out, err, healthy := v.run(st, pg.p.config.RenderTimeout)
	if healthy {
		pg.pool.put(v)
	}

	switch {
	case st.redirectTo != "":
		return e.Redirect(st.redirectStatus, st.redirectTo)
	case err != nil:
		return pg.fail(e, err)
	case st.override != nil:
		if st.override.json {
			return e.JSON(st.override.status, st.override.data)
		}
		return e.HTML(st.override.status, st.override.body)
	case st.stopped:
		return e.HTML(st.status, "")
	case st.jsonOut:
		return e.Blob(st.status, "application/json", []byte(out))
	}

	if ct := e.Response.Header().Get("Content-Type"); ct != "" {
		return e.Blob(st.status, ct, []byte(out))
	}
	return e.HTML(st.status, out)
}

// run renders st in v under the time limit. healthy is false if a Go panic
// escaped, in which case v must not be reused.
func (v *pageVM) run(st *renderState, timeout time.Duration) (out string, err error, healthy bool) {
	var (
		mu       sync.Mutex
		finished bool
	)
	if timeout > 0 {
		// The budget is for JS: while the page waits in one of our Go calls
		// (a sign-in's database write, password hashing, an OAuth2 provider
		// round trip) the deadline is re-checked shortly after instead, so
		// a slow but legitimate write is never cut off half-way.
		var timer *time.Timer
		mu.Lock() // the callback must see timer assigned
		timer = time.AfterFunc(timeout, func() {
			mu.Lock()
			defer mu.Unlock()
			if finished {
				return
			}
			if v.inNative.Load() > 0 {
				timer.Reset(nativeRecheck)
				return
			}
			v.rt.Interrupt(timeoutSignal{after: timeout})
		})
		mu.Unlock()
		defer func() {
			mu.Lock()
			timer.Stop()
			mu.Unlock()
		}()
	}

	defer func() {
		mu.Lock()
		finished = true
		mu.Unlock()
		// Whatever stopped the render (redirect, timeout, a late timer),
		// the VM must not start its next run interrupted.
		v.rt.ClearInterrupt()
		v.reset()

		if r := recover(); r != nil {
			healthy = false
			err = fmt.Errorf("page render panicked: %v", r)
		}
	}()

	out, err = v.render(st)
	return out, err, true
}

// fail answers a failed render: logged always, detailed in dev mode and
// generic in production. A status carried by the thrown error (e.g. 429
// from an uncaught signInAnonymously) is kept.
func (pg *pages) fail(e *core.RequestEvent, err error) error {
	te := pg.locate(err)
	status := te.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}

	pg.p.app.Logger().Error("template error",
		slog.String("url", e.Request.URL.String()),
		slog.String("file", te.File),
		slog.Int("line", te.Line),
		slog.String("error", te.Message),
		slog.Int("status", status),
	)

	if e.Written() {
		return nil
	}

	var body strings.Builder
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	body.WriteString("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body><h1>" + title + "</h1>")
	if pg.p.config.TemplatesDev {
		body.WriteString("<pre>" + html.EscapeString(te.Error()))
		if te.Stack != "" {
			body.WriteString("\n\n" + html.EscapeString(te.Stack))
		}
		body.WriteString("</pre>")
	}
	body.WriteString("</body></html>")

	return e.HTML(status, body.String())
}

// locate turns a render error into a TemplateError naming the innermost
// template (or page module) line involved.
func (pg *pages) locate(err error) *TemplateError {
	var te *TemplateError
	if errors.As(err, &te) {
		return te
	}

	te = &TemplateError{File: "?", Message: err.Error(), cause: err}

	var frames []goja.StackFrame
	var ie *goja.InterruptedError
	var ex *goja.Exception
	switch {
	case errors.As(err, &ie):
		te.Message = fmt.Sprint(ie.Value())
		frames = ie.Stack()
	case errors.As(err, &ex):
		te.Message = ex.Value().String()
		frames = ex.Stack()
		if obj, ok := ex.Value().(*goja.Object); ok {
			if s := obj.Get("status"); s != nil && goja.IsNumber(s) {
				te.Status = int(s.ToInteger())
			}
			// an uncaught Go error (e.g. from a PocketBase binding)
			if gv := obj.Get("value"); gv != nil && te.Status == 0 {
				var apiErr *router.ApiError
				if goErr, ok := gv.Export().(error); ok && errors.As(goErr, &apiErr) {
					te.Status = apiErr.Status
				}
			}
		}
	}

	var stack strings.Builder
	located := false
	for _, f := range frames {
		c := pg.src.lookup(f.SrcName())
		if c == nil {
			continue
		}
		line := c.sourceLine(f.Position().Line)
		if !located {
			te.File, te.Line, located = c.name, line, true
		}
		fmt.Fprintf(&stack, "    at %s (%s:%d)\n", f.FuncName(), c.name, line)
	}
	te.Stack = stack.String()
	return te
}
