package pages

import (
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// internalAPI is PocketBase's router as an http.Handler, built once when
// every route is registered (at the end of OnServe, or on first use). Pages
// dispatch requests in-process through it (the auth helpers and the js-sdk
// plugin's pb(), both via plugins.DispatchInProcess: why in-process is
// written there) and ask it which URLs PocketBase owns.
type internalAPI struct {
	router *router.Router[*core.RequestEvent]
	once   sync.Once
	mux    http.Handler
	err    error
}

// build makes the handler now (at the end of OnServe); handler() would
// otherwise build it on first use.
func (a *internalAPI) build() { _, _ = a.handler() }

func (a *internalAPI) handler() (http.Handler, error) {
	a.once.Do(func() {
		if a.router == nil {
			a.err = router.NewInternalServerError("The app router is not available", nil)
			return
		}
		a.mux, a.err = a.router.BuildMux()
	})
	return a.mux, a.err
}

// probeMethods are the methods a route can be registered for.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// ownedByPocketBase reports whether a page must not answer urlPath: it is
// in PocketBase's namespaces (/api/ and /_/) and one of the router's routes
// (PocketBase's own or a pb_hooks routerAdd) matches it for some method.
// The request reached the pages catch-all, so no route matched its own
// method; a PUT to /api/realtime must still not reach a page named
// api/realtime.ejs. Every other /api/x is free for pages (PocketPages'
// starters post to /api/chat).
//
// The routes are read from the router itself, not from a list, so a
// PocketBase upgrade that adds a route is covered.
func (a *internalAPI) ownedByPocketBase(urlPath string) bool {
	if !(urlPath == "/api" || strings.HasPrefix(urlPath, "/api/") || urlPath == "/_" || strings.HasPrefix(urlPath, "/_/")) {
		return false
	}
	h, err := a.handler()
	if err != nil {
		return true // cannot tell: PocketBase keeps its namespace
	}
	mux, ok := h.(*http.ServeMux)
	if !ok {
		return true
	}
	for _, method := range probeMethods {
		probe := &http.Request{Method: method, URL: &url.URL{Path: urlPath}, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			return true
		}
	}
	return false
}

// httpHandler is plugins.Env.Handler: the router as an http.Handler, or nil
// if it cannot be built.
func (a *internalAPI) httpHandler() http.Handler {
	h, err := a.handler()
	if err != nil {
		return nil
	}
	return h
}
