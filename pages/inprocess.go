package pages

import (
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// internalAPI dispatches requests to the app's routes in-process. The mux is
// built on first use, when every route has been registered.
type internalAPI struct {
	router *router.Router[*core.RequestEvent]
	once   sync.Once
	mux    http.Handler
	err    error
}

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

// serve runs req through the app's router in this process and returns the
// status and body it answered.
//
// Why in-process: the page auth helpers must go through PocketBase's own
// auth routes, so that collection options, MFA, rate limits and every
// OnRecordAuth*Request hook (anonauth's merge included) apply exactly as for
// the REST API; the router offers those routes only as an http.Handler. A
// loopback HTTP call would need the server's own URL and a socket per call.
//
// Why httptest.ResponseRecorder: answering in memory needs an
// http.ResponseWriter that buffers what the handler writes, and this is the
// standard library's (nothing in it is test-only). This method is the one
// place that uses it; the recorded headers (the route's own Set-Cookie
// included) are dropped: the caller applies the outcome to the page's real
// response itself.
func (a *internalAPI) serve(req *http.Request) (status int, body []byte, err error) {
	h, err := a.handler()
	if err != nil {
		return 0, nil, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), nil
}
