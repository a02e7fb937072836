package plugins

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// errRouterNotReady is returned when an in-process call (pb(), a page's
// auth helper) is made before the server has built its router (e.g. in a
// pb_hooks file at load time).
var errRouterNotReady = errors.New("PocketBase's router is not ready yet (the server has not started)")

// forwardedHeaders are the page request's headers an in-process call keeps,
// so rate limits, logs and the trusted-proxy rule see the real client.
var forwardedHeaders = []string{"User-Agent", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto", "Fly-Client-Ip", "Cf-Connecting-Ip"}

// DispatchInProcess sends one REST request through PocketBase's router
// without a socket and returns the status and body it answered, collected
// in memory; the response's headers (its Set-Cookie included) are dropped.
// It is the one in-process adapter: pb() and the pages engine's auth
// helpers both call it.
//
// Why in-process HTTP rather than calling core.App directly: pb() promises
// the JS SDK's semantics — the request goes through every router middleware
// (auth token loading, rate limits, body limits), the collection's API
// rules, the OnRecord*Request hooks and the JSON encoding of the REST API —
// so a page gets exactly what a browser calling the same endpoint gets, and
// a rule that denies it gives the same 4xx. Going through the router's
// http.Handler keeps all of that with none of a socket's cost (no port, no
// loopback connection, no server URL).
//
// e is the page's request, if any: the call inherits its context
// (cancelled with it), client address, host and TLS state, but not its
// cookies — the caller's auth is only what the Authorization header says.
func DispatchInProcess(h http.Handler, e *core.RequestEvent, method, target string, headers map[string]string, body []byte) (status int, resBody []byte, err error) {
	if h == nil {
		return 0, nil, errRouterNotReady
	}
	if !strings.HasPrefix(target, "/") {
		return 0, nil, errors.New("pb(): only paths on this server can be requested, got " + target)
	}

	ctx := context.Background()
	if e != nil && e.Request != nil {
		ctx = e.Request.Context()
	}
	// Never a nil body: a server request always has one, and PocketBase's
	// router wraps and closes it.
	var reader io.Reader = http.NoBody
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return 0, nil, err
	}
	req.RequestURI = target // as a server sets it
	req.RemoteAddr = "127.0.0.1:0"
	if e != nil && e.Request != nil {
		req.RemoteAddr = e.Request.RemoteAddr
		req.Host = e.Request.Host
		req.TLS = e.Request.TLS
		for _, name := range forwardedHeaders {
			if v := e.Request.Header.Get(name); v != "" {
				req.Header.Set(name, v)
			}
		}
	}
	for name, value := range headers {
		req.Header.Set(name, value)
	}

	res := &memoryResponse{header: http.Header{}}
	h.ServeHTTP(res, req)
	if res.status == 0 {
		res.status = http.StatusOK
	}
	return res.status, res.body.Bytes(), nil
}

// memoryResponse is the http.ResponseWriter of an in-process call: status
// and body kept in memory (what httptest.ResponseRecorder does, without its
// test-only bookkeeping).
type memoryResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *memoryResponse) Header() http.Header { return r.header }

func (r *memoryResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *memoryResponse) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
