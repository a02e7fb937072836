package pages_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile requests to the page router and runaway templates, through the
// real router (see also fuzz_router_test.go for the path functions).

// writeTree writes files (slash paths → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hostileSite is a templates dir whose every non-routable file, and a file
// next to the directory, contains TOPSECRET: no URL may ever show it.
func hostileSite(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "templates")
	writeTree(t, base, map[string]string{"secret.txt": "TOPSECRET outside the templates dir"})
	writeTree(t, dir, map[string]string{
		"index.ejs":                "home",
		"products/[id].ejs":        "product <%= params.id %>",
		"(shop)/cart.ejs":          "cart",
		"odd name ü.ejs":           "odd",
		"%2e%2e.ejs":               "dotdot-named page",
		"static/site.css":          "body{}",
		"_private/header.ejs":      "TOPSECRET private include",
		"_private/data.json":       `{"k":"TOPSECRET json"}`,
		"products/_private/x.ejs":  "TOPSECRET nested private",
		"hidden/+load.js":          "// TOPSECRET loader",
		"hidden/+middleware.js":    "// TOPSECRET middleware",
		"-draft.ejs":               "TOPSECRET draft",
		".env":                     "TOPSECRET env",
		"node_modules/pkg/i.ejs":   "TOPSECRET module",
		"products/+layout.ejs.bak": "TOPSECRET backup",
	})
	// Symlinks out of the root are never followed (os.Root), nor routed.
	_ = os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "leak.txt"))
	_ = os.Symlink(base, filepath.Join(dir, "up"))
	return dir
}

var hostilePagePaths = []string{
	"/", "/products/p1", "/products/..%2f..%2fsecret.txt", "/products/%2e%2e", "/../secret.txt",
	"/..", "/./", "//", "/_private/header", "/_private/header.ejs", "/_private/data.json",
	"/products/_private/x", "/hidden/+load.js", "/hidden/+middleware.js", "/hidden/+load", "/-draft", "/.env", "/node_modules/pkg/i",
	"/leak.txt", "/up/secret.txt", "/up/templates/index.ejs", "/static/site.css", "/static/../_private/header.ejs",
	"/static/site.0123456789abcdef.css", "/static/../../secret.txt", "/odd name ü", "/odd%20name%20%C3%BC",
	"/%2e%2e", "/products/\x00", "/products/a\\..\\..\\secret.txt", "/products/" + strings.Repeat("x", 10000),
	strings.Repeat("/a", 500), "/cart", "/(shop)/cart", "/api/../_private/header", "/_/", "/api/health/../../x",
}

// FuzzPagePath: any path, any method, answers without a 5xx and never
// shows a file that is not routable or not under the templates dir.
func FuzzPagePath(f *testing.F) {
	s := newServer(f, testOptions{templatesDir: hostileSite(f)})
	for _, p := range hostilePagePaths {
		f.Add("GET", p)
	}
	f.Add("POST", "/products/p1")
	f.Add("DELETE", "/static/site.css")
	f.Add("PROPFIND", "/")
	f.Add("GET\x00", "/")
	f.Fuzz(func(t *testing.T, method, p string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Method = method
		req.URL.Path = p
		req.URL.RawPath = ""
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d\n%.300s", method, p, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "TOPSECRET") {
			t.Fatalf("%s %q leaked a hidden file:\n%.300s", method, p, rec.Body.String())
		}
	})
}

// TestPagePathsOverTheWire sends the hostile paths as raw request lines
// (as a client would, percent-encoding and all) to an HTTP server.
func TestPagePathsOverTheWire(t *testing.T) {
	s := newServer(t, testOptions{templatesDir: hostileSite(t)})
	srv := httptest.NewServer(s.mux)
	defer srv.Close()
	for _, p := range hostilePagePaths {
		if strings.ContainsAny(p, "\x00 ") {
			continue // not a valid request line
		}
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p // sent as is, unnormalized
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		var body strings.Builder
		_, _ = io.Copy(&body, res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 || strings.Contains(body.String(), "TOPSECRET") {
			t.Fatalf("%q: %d %.300s", p, res.StatusCode, body.String())
		}
	}
}

// TestRunawayTemplatesAreStopped: a template that loops forever, allocates
// without bound or recurses without end is stopped by the per-render time
// limit (Config.RenderTimeout) or the call depth limit, answers 500, and
// the only pooled VM then renders the next page normally.
func TestRunawayTemplatesAreStopped(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"ok/[id].ejs":       "ok <%= params.id %>",
		"loop.ejs":          "<% while (true) {} %>",
		"catch.ejs":         "<% for (;;) { try { while (true) {} } catch (e) {} } %>",
		"finally.ejs":       "<% try { while (true) {} } finally { while (true) {} } %>",
		"alloc.ejs":         `<% const keep = []; while (true) keep.push(new Array(1000).fill("x")) %>`,
		"strings.ejs":       `<% let s = "x"; while (true) s += s %>`,
		"recurse.ejs":       "<% function f() { return f() } f() %>",
		"native.ejs":        "<% function g() { [1].map(g) } g() %>",
		"tostring.ejs":      "<% function h() { return { toString() { return String(h()) } } } String(h()) %>",
		"include.ejs":       "<%- include('self') %>",
		"_private/self.ejs": "<%- include('self') %>",
	})
	const limit = 150 * time.Millisecond
	s := newServer(t, testOptions{templatesDir: dir, renderTimeout: limit, poolSize: 1, dev: true})

	// Each page must be stopped by a limit, and the dev-mode error page says
	// which one: the render time limit for busy loops and allocation, the
	// call-stack limit for recursion (JS, native and through include()).
	// Asserting the cause instead of the elapsed time keeps the test
	// independent of the machine's speed; a page no limit stops would hang
	// the test (the native recursion unwinds on its own only after ~20 s).
	timedOut := "page render timed out after " + limit.String()
	stopped := map[string]string{
		"loop": timedOut, "catch": timedOut, "finally": timedOut, "alloc": timedOut, "strings": timedOut,
		"recurse": "at f (recurse.ejs", "native": "at map (native)", "tostring": "at toString (tostring.ejs",
		"include": "_private/self.ejs:1",
	}
	for _, page := range []string{"loop", "catch", "finally", "alloc", "strings", "recurse", "native", "tostring", "include"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		res := s.do("GET", "/"+page, "")
		took := time.Since(start)
		runtime.ReadMemStats(&after)

		if res.status != http.StatusInternalServerError {
			t.Fatalf("/%s: want 500, got %d %.300s", page, res.status, res.body)
		}
		if !strings.Contains(res.body, stopped[page]) {
			t.Fatalf("/%s: want the 500 to come from its limit (%q), got %.400s", page, stopped[page], res.body)
		}
		t.Logf("/%s: 500 after %v, %.1f MB allocated during the render", page, took.Round(time.Millisecond),
			float64(int64(after.TotalAlloc)-int64(before.TotalAlloc))/1e6)

		// The (single) VM is healthy: the next renders work.
		for _, id := range []string{"a", "b"} {
			mustContain(t, s.do("GET", "/ok/"+id, ""), "ok "+id)
		}
	}
}

// FuzzPageBody: a page reading body() answers any POST body with a 2xx or
// a clean 4xx (body() throws PocketBase's 400 for an unreadable body, and
// the page keeps that status), never a 5xx.
func FuzzPageBody(f *testing.F) {
	dir := f.TempDir()
	writeTree(f, dir, map[string]string{
		"form.ejs": "<% const f = body() %>fields=<%= Object.keys(f || {}).length %>",
	})
	s := newServer(f, testOptions{templatesDir: dir})
	for _, seed := range [][2]string{
		{"application/json", `{"a":1}`}, {"application/json", `{`}, {"application/json", `[]`}, {"application/json", `null`},
		{"application/json", "\xff\xfe"}, {"application/json", strings.Repeat("[", 100_000)},
		{"application/x-www-form-urlencoded", "a=1&b=%ZZ"}, {"application/x-www-form-urlencoded", strings.Repeat("a=b&", 20_000)},
		{"multipart/form-data; boundary=x", "garbage"}, {"multipart/form-data", "--\r\n"}, {"text/plain", "hello"}, {"", "x"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST /form %q %.100q: %d %.300s", contentType, body, rec.Code, rec.Body.String())
		}
	})
}
