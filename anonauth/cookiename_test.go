package anonauth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

const hostCookie = "__Host-pb_auth"

// TestCookieNameConfig: with Config.CookieName "__Host-pb_auth" the session
// cookie is written (Secure, Path=/, no Domain, even over plain HTTP, as the
// prefix demands) and read under that name only: a plain pb_auth cookie, the
// kind a sibling subdomain can plant, is no session.
func TestCookieNameConfig(t *testing.T) {
	t.Parallel()

	cfg := anonauth.Config{CookieName: hostCookie}
	refresh := "/api/collections/users/auth-refresh"
	withGuestCookie := func(name string) func(testing.TB, *tests.TestApp, *core.ServeEvent) {
		return func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
			guest, token := guestToken(t, app, "users")
			value, _ := anonauth.EncodeAuthCookie(token, guest)
			withCookie(e, name+"="+value)
		}
	}
	hostCookieOnly := func(t testing.TB, res *http.Response) *http.Cookie {
		t.Helper()
		if findCookie(res, anonauth.CookieName) != nil {
			t.Fatalf("a pb_auth cookie was set next to %s: %v", hostCookie, res.Header.Values("Set-Cookie"))
		}
		c := findCookie(res, hostCookie)
		if c == nil || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
			t.Fatalf("want a Secure, HttpOnly, Path=/, host-only %s cookie, got %v", hostCookie, res.Header.Values("Set-Cookie"))
		}
		return c
	}

	scenarios := []tests.ApiScenario{
		{
			Name:            "sign-in sets the configured cookie with the __Host- attributes",
			Method:          http.MethodPost,
			URL:             signInURL,
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":true`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := decodeAuth(t, res)
				if token, _ := anonauth.DecodeAuthCookie(hostCookieOnly(t, res).Value); token != body.Token {
					t.Fatal("the cookie must carry the response's token")
				}
			},
		},
		{
			Name:            "the configured cookie authenticates and is renewed under its name",
			Method:          http.MethodPost,
			URL:             refresh,
			TestAppFactory:  appFactory(cfg),
			BeforeTestFunc:  withGuestCookie(hostCookie),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":true`},
			AfterTestFunc:   func(t testing.TB, _ *tests.TestApp, res *http.Response) { hostCookieOnly(t, res) },
		},
		{
			Name:            "a plain pb_auth cookie is no session when another name is configured",
			Method:          http.MethodPost,
			URL:             refresh,
			TestAppFactory:  appFactory(cfg),
			BeforeTestFunc:  withGuestCookie(anonauth.CookieName),
			ExpectedStatus:  401,
			ExpectedEvents:  map[string]int{"*": 0},
			ExpectedContent: []string{`"status":401`},
		},
		{
			Name:           "two cookies of the configured name → 401 naming it",
			Method:         http.MethodPost,
			URL:            refresh,
			TestAppFactory: appFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				guest, token := guestToken(t, app, "users")
				value, _ := anonauth.EncodeAuthCookie(token, guest)
				withCookie(e, hostCookie+"="+value+"; "+hostCookie+"="+value)
			},
			ExpectedStatus:  401,
			ExpectedContent: []string{"more than one " + hostCookie + " session cookie"},
			ExpectedEvents:  map[string]int{"*": 0},
		},
		{
			Name:           "delete-anonymous expires the configured cookie",
			Method:         http.MethodPost,
			URL:            "/api/collections/users/delete-anonymous",
			TestAppFactory: appFactory(cfg),
			BeforeTestFunc: withGuestCookie(hostCookie),
			ExpectedStatus: 204,
			AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				if c := findCookie(res, hostCookie); c == nil || c.MaxAge >= 0 || !c.Secure {
					t.Fatalf("want %s expired (Secure), got %v", hostCookie, res.Header.Values("Set-Cookie"))
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestCookieNameIsValidated: Register refuses a name browsers would not
// store as given.
func TestCookieNameIsValidated(t *testing.T) {
	t.Parallel()

	for _, bad := range []string{"pb auth", "pb;auth", "pb_auth=", "__host-pb_auth", "__SECURE-pb_auth", "é"} {
		app, err := tests.NewTestApp()
		if err != nil {
			t.Fatal(err)
		}
		_, err = anonauth.Register(app, anonauth.Config{CookieName: bad})
		app.Cleanup()
		if err == nil || !strings.Contains(err.Error(), "CookieName") {
			t.Errorf("CookieName %q: want a Config.CookieName error, got %v", bad, err)
		}
	}
}

// TestCustomCookieNameWithOfficialJSSDK: the SDK's loadFromCookie(cookie,
// key) and exportToCookie(options, key) interoperate with a custom name.
func TestCustomCookieNameWithOfficialJSSDK(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{CookieName: hostCookie})
	defer app.Cleanup()

	guest, token := guestToken(t, app, "users")
	e, rec := newRequestEvent(app)
	if err := anonauth.SetAuthCookie(e, token, guest); err != nil {
		t.Fatal(err)
	}
	header := rec.Result().Header.Get("Set-Cookie")
	if !strings.HasPrefix(header, hostCookie+"=") {
		t.Fatalf("Set-Cookie %q", header)
	}

	type loaded struct {
		Token       string `json:"token"`
		RecordId    string `json:"recordId"`
		IsAnonymous bool   `json:"isAnonymous"`
	}
	var got loaded
	if err := json.Unmarshal(runSDK(t, "load", header, hostCookie), &got); err != nil {
		t.Fatal(err)
	}
	if got.Token != token || got.RecordId != guest.Id || !got.IsAnonymous {
		t.Fatalf("SDK loadFromCookie(cookie, %q) loaded %+v", hostCookie, got)
	}
	// Without the key the SDK looks for pb_auth and finds no session: the
	// name really is what the SDK reads.
	var none loaded
	if err := json.Unmarshal(runSDK(t, "load", header), &none); err != nil {
		t.Fatal(err)
	}
	if none.Token != "" {
		t.Fatalf("the SDK read %s under its default key", hostCookie)
	}

	recordJSON, _ := json.Marshal(guest)
	sdkHeader := string(runSDK(t, "export", token, string(recordJSON), hostCookie))
	name, rest, _ := strings.Cut(strings.SplitN(sdkHeader, ";", 2)[0], "=")
	if name != hostCookie {
		t.Fatalf("SDK exportToCookie(options, %q) wrote %q", hostCookie, sdkHeader)
	}
	if tok, err := anonauth.DecodeAuthCookie(rest); err != nil || tok != token {
		t.Fatalf("decoding the SDK's %s cookie: %q, %v", hostCookie, tok, err)
	}
}
