package jsvm_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// The pb_hooks global, through the shipped example hook
// (pb_hooks/guest_api.pb.js) and test hooks, loaded by PocketBase's jsvm.
func TestHooksSignInAnonymously(t *testing.T) {
	factory := func(t testing.TB) *tests.TestApp { return newTestApp(t, testOptions{}) }
	hasAuthCookie := func(t testing.TB, res *http.Response) {
		for _, c := range res.Cookies() {
			if c.Name == "pb_auth" && c.Value != "" && c.HttpOnly {
				return
			}
		}
		t.Fatalf("expected a pb_auth cookie, got %v", res.Header.Values("Set-Cookie"))
	}

	scenarios := []tests.ApiScenario{
		{
			Name: "example hook: default collection", Method: "POST", URL: "/api/guest/start",
			Body:            strings.NewReader(`{}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"token":"`, `"isAnonymous":true`, `"collectionName":"users"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				hasAuthCookie(t, res)
				guests, err := app.FindAllRecords("users", nil)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, r := range guests {
					if r.GetBool("isAnonymous") {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("expected 1 anonymous user, got %d", n)
				}
			},
		},
		{
			Name: "example hook: customers", Method: "POST", URL: "/api/guest/start",
			Body:            strings.NewReader(`{"collection":"customers"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"collectionName":"customers"`, `"isAnonymous":true`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				hasAuthCookie(t, res)
				if n := countRecords(t, app, "customers"); n != 1 {
					t.Fatalf("expected 1 customer, got %d", n)
				}
			},
		},
		{
			Name: "example hook: unknown collection is a catchable error", Method: "POST", URL: "/api/guest/start",
			Body:            strings.NewReader(`{"collection":"nope"}`),
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`, `"message":"Missing collection \"nope\"."`},
		},
		{
			Name: "example hook: not an auth collection", Method: "POST", URL: "/api/guest/start",
			Body:            strings.NewReader(`{"collection":"posts"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`, `is not an auth collection`},
		},
		{
			Name: "uncaught error keeps its status", Method: "POST", URL: "/api/test/uncaught?c=nope",
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`, `Missing collection`},
		},
		{
			Name: "bad arguments are catchable 400s", Method: "GET", URL: "/api/test/bad-args",
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"400 The first argument must be the request event (e) of the route or hook."`,
				`got map[string]interface {}.`,
				`got string.`,
				`"400 Invalid options for signInAnonymously: expected an object like {collection: \"users\"}."`,
				`"400 Invalid options for signInAnonymously: collection must be a string."`,
				`"400 Invalid options for signInAnonymously: fresh must be a boolean."`,
			},
			NotExpectedContent: []string{"no error"},
		},
		{
			Name: "our globals and the user's OnInit", Method: "GET", URL: "/api/test/globals",
			ExpectedStatus:  200,
			ExpectedContent: []string{`"signInAnonymously":"function"`, `"signOut":"function"`, `"upgradeAnonymous":"function"`, `"deleteAnonymous":"function"`, `"onAnonymousLink":"function"`, `"userGlobal":"from the user's OnInit"`},
		},
		{
			Name: "example hook: sign-out expires the cookie", Method: "POST", URL: "/api/guest/sign-out",
			ExpectedStatus:  200,
			ExpectedContent: []string{`"signedOut":true`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				for _, c := range res.Cookies() {
					if c.Name == "pb_auth" && c.MaxAge < 0 {
						return
					}
				}
				t.Fatalf("expected an expired pb_auth cookie, got %v", res.Header.Values("Set-Cookie"))
			},
		},
	}
	for _, sc := range scenarios {
		sc.TestAppFactory = factory
		sc.Test(t)
	}
}

func TestHooksRateLimited(t *testing.T) {
	s := newServer(t, testOptions{rateLimit: 2})
	for i := 0; i < 2; i++ {
		mustStatus(t, s.do("POST", "/api/guest/start", `{}`, "Content-Type: application/json"), 200)
	}
	res := s.do("POST", "/api/guest/start", `{}`, "Content-Type: application/json")
	mustStatus(t, res, http.StatusTooManyRequests)
	mustContain(t, res, `"status":429`, "Too many anonymous sign-ins")
}

// Our declarations land in TypesDir and inside PocketBase's types.d.ts
// (which pb_hooks files reference), after PocketBase wrote it.
func TestTypesFile(t *testing.T) {
	typesDir := t.TempDir()
	app := newTestApp(t, testOptions{typesDir: typesDir})
	defer app.Cleanup()

	// what `serve` does first: PocketBase writes types.d.ts, we extend it
	err := app.OnBootstrap().Trigger(&core.BootstrapEvent{App: app}, func(e *core.BootstrapEvent) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.ReadFile(filepath.Join(typesDir, "pocketguest.d.ts"))
	if err != nil || !strings.Contains(string(own), "declare function signInAnonymously") {
		t.Fatalf("pocketguest.d.ts not written: %v", err)
	}

	pb, err := os.ReadFile(filepath.Join(typesDir, "types.d.ts"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(pb)
	if !strings.Contains(text, "declare var $app: PocketBase") {
		t.Fatal("types.d.ts is not PocketBase's")
	}
	if strings.Count(text, "declare function signInAnonymously(e: core.RequestEvent") != 1 {
		t.Fatal("expected our declarations appended once to types.d.ts")
	}

	// idempotent across restarts
	if err := app.OnBootstrap().Trigger(&core.BootstrapEvent{App: app}, func(e *core.BootstrapEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	pb, _ = os.ReadFile(filepath.Join(typesDir, "types.d.ts"))
	if strings.Count(string(pb), "declare function signInAnonymously(e: core.RequestEvent") != 1 {
		t.Fatal("declarations duplicated on a second bootstrap")
	}
}
