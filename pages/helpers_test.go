package pages_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
	"github.com/pocketguest/pocketguest/internal/devserver"
	"github.com/pocketguest/pocketguest/jsvm"
	"github.com/pocketguest/pocketguest/pages"
)

// testOptions tweak the app newTestApp builds.
type testOptions struct {
	templatesDir  string   // default testdata/site
	guests        []string // anonauth collections; default users + customers
	rateLimit     int      // default -1 (off)
	cookieName    string   // anonauth.Config.CookieName; default pb_auth
	dev           bool
	renderTimeout time.Duration
	poolSize      int
	typesDir      string                                 // default a temp dir
	setup         func(t testing.TB, app *tests.TestApp) // before the plugins are registered
	hooks         map[string]string                      // more files in pb_hooks (e.g. "pages/index.ejs")
	dropIn        bool                                   // no TemplatesDir: PocketPages' pb_hooks/pages
}

// newTestApp is a PocketBase test app (PocketBase's test data: a "users"
// auth collection) plus an auth collection "customers" and a base
// collection "posts", with anonauth, jsvm and this package registered. pb_hooks
// holds the shipped example hook and testdata/hooks/*.pb.js.
func newTestApp(t testing.TB, o testOptions) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}

	customers := core.NewAuthCollection("customers")
	if err := app.Save(customers); err != nil {
		t.Fatal(err)
	}
	posts := core.NewBaseCollection("posts")
	if err := app.Save(posts); err != nil {
		t.Fatal(err)
	}

	if o.templatesDir == "" && !o.dropIn {
		o.templatesDir = "testdata/site"
	}
	if o.guests == nil {
		o.guests = []string{"users", "customers"}
	}
	if o.rateLimit == 0 {
		o.rateLimit = -1
	}

	if o.setup != nil {
		o.setup(t, app)
	}

	if o.typesDir == "" {
		o.typesDir = t.TempDir()
	}

	hooksDir := t.TempDir()
	copyFile(t, "../pb_hooks/guest_api.pb.js", filepath.Join(hooksDir, "guest_api.pb.js"))
	copyFile(t, "../jsvm/testdata/hooks/extra.pb.js", filepath.Join(hooksDir, "extra.pb.js"))
	writeTree(t, hooksDir, o.hooks)
	if o.dropIn {
		o.templatesDir = ""
	}

	guestsConfig := anonauth.Config{Collections: o.guests, RateLimit: o.rateLimit, CookieName: o.cookieName}
	if o.rateLimit > 0 {
		// A stopped clock: the limit's bucket never refills during the test,
		// however slowly a loaded machine runs it.
		stopped := time.Now()
		guestsConfig.Clock = func() time.Time { return stopped }
	}
	guests := anonauth.MustRegister(app, guestsConfig)
	hooks := jsvm.MustRegister(app, jsvm.Config{
		Hooks: pbjsvm.Config{
			HooksDir:      hooksDir,
			HooksPoolSize: 2,
			MigrationsDir: t.TempDir(),
			TypesDir:      o.typesDir,
			OnInit: func(vm *goja.Runtime) {
				vm.Set("userGlobal", "from the user's OnInit")
			},
		},
	})
	pages.MustRegister(app, pages.Config{
		TemplatesDir:  o.templatesDir,
		HooksDir:      hooksDir,
		TemplatesDev:  o.dev,
		RenderTimeout: o.renderTimeout,
		PoolSize:      o.poolSize,
		Guests:        guests,
		InitVM:        hooks.InitVM,
	})

	return app
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies a testdata tree to a temp dir (for tests that edit it).
func copyDir(t testing.TB, from string) string {
	t.Helper()
	to := t.TempDir()
	if err := devserver.CopyDir(from, to); err != nil {
		t.Fatal(err)
	}
	return to
}

// server drives one app through the real router, across several requests
// (tests.ApiScenario builds a new app per request).
type server struct {
	app *tests.TestApp
	mux http.Handler
}

func newServer(t testing.TB, o testOptions) *server {
	t.Helper()
	app := newTestApp(t, o)
	t.Cleanup(app.Cleanup)

	baseRouter, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	se := &core.ServeEvent{App: app, Router: baseRouter}
	s := &server{app: app}
	err = app.OnServe().Trigger(se, func(e *core.ServeEvent) error {
		mux, err := e.Router.BuildMux()
		s.mux = mux
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; headers are "Name: value" strings.
func (s *server) do(method, target, body string, headers ...string) response {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// authCookie returns the "pb_auth=..." pair set by res, or "".
func (r response) authCookie() string {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == anonauth.CookieName && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

func mustContain(t testing.TB, res response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(res.body, p) {
			t.Fatalf("expected %q in the body (status %d):\n%s", p, res.status, res.body)
		}
	}
}

func mustNotContain(t testing.TB, res response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(res.body, p) {
			t.Fatalf("did not expect %q in the body (status %d):\n%s", p, res.status, res.body)
		}
	}
}

func mustStatus(t testing.TB, res response, want int) {
	t.Helper()
	if res.status != want {
		t.Fatalf("expected status %d, got %d:\n%s", want, res.status, res.body)
	}
}

// countRecords counts the records of a collection.
func countRecords(t testing.TB, app core.App, collection string) int {
	t.Helper()
	n, err := app.CountRecords(collection)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
