package anonauth_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// cookieScenario signs a guest in through the real endpoint, then sends the
// scenario's request carrying only that guest's pb_auth cookie.
func cookieScenario(s tests.ApiScenario, cfg anonauth.Config) tests.ApiScenario {
	s.TestAppFactory = appFactory(cfg)
	s.BeforeTestFunc = func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		guest, token := guestToken(t, app, "users")
		value, err := anonauth.EncodeAuthCookie(token, guest)
		if err != nil {
			t.Fatal(err)
		}
		// Set the cookie before any middleware runs, as a browser would.
		withCookie(e, anonauth.CookieName+"="+value)
		// A plain route: what any custom route or hook sees in e.Auth.
		e.Router.GET("/whoami", func(re *core.RequestEvent) error {
			if re.Auth == nil {
				return re.UnauthorizedError("", nil)
			}
			return re.JSON(200, map[string]any{"id": re.Auth.Id, "anonymous": anonauth.IsAnonymous(re.Auth)})
		})
	}
	return s
}

func TestCookieSession(t *testing.T) {
	t.Parallel()

	cfg := anonauth.Config{TrustedOrigins: []string{"https://shop.example.com"}}
	refresh := "/api/collections/users/auth-refresh"

	scenarios := []tests.ApiScenario{
		cookieScenario(tests.ApiScenario{
			Name:            "cookie alone authenticates auth-refresh and the cookie is renewed",
			Method:          http.MethodPost,
			URL:             refresh,
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":true`, `"token":"`},
			ExpectedEvents:  map[string]int{"OnRecordAuthRefreshRequest": 1, "OnRecordAuthRequest": 1},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := decodeAuth(t, res)
				c := findCookie(res, anonauth.CookieName)
				if c == nil {
					t.Fatal("a cookie session's refresh must renew the cookie")
				}
				if token, _ := anonauth.DecodeAuthCookie(c.Value); token != body.Token {
					t.Fatal("renewed cookie must carry the refreshed token")
				}
			},
		}, cfg),
		cookieScenario(tests.ApiScenario{
			Name:            "cross-site unsafe request with the cookie (Origin) is 403",
			Method:          http.MethodPost,
			URL:             refresh,
			Headers:         map[string]string{"Origin": "https://evil.example"},
			ExpectedStatus:  403,
			ExpectedContent: []string{`"status":403`, `Cross-site request rejected`},
			ExpectedEvents:  map[string]int{"*": 0},
		}, cfg),
		cookieScenario(tests.ApiScenario{
			Name:            "cross-site unsafe request with the cookie (Sec-Fetch-Site) is 403",
			Method:          http.MethodPost,
			URL:             refresh,
			Headers:         map[string]string{"Sec-Fetch-Site": "cross-site"},
			ExpectedStatus:  403,
			ExpectedContent: []string{`Cross-site request rejected`},
			ExpectedEvents:  map[string]int{"*": 0},
		}, cfg),
		cookieScenario(tests.ApiScenario{
			Name:            "same-site but not same-origin is 403 too",
			Method:          http.MethodPost,
			URL:             refresh,
			Headers:         map[string]string{"Sec-Fetch-Site": "same-site"},
			ExpectedStatus:  403,
			ExpectedContent: []string{`Cross-site request rejected`},
			ExpectedEvents:  map[string]int{"*": 0},
		}, cfg),
		cookieScenario(tests.ApiScenario{
			Name:            "same-origin unsafe request with the cookie passes",
			Method:          http.MethodPost,
			URL:             refresh,
			Headers:         map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":true`},
			ExpectedEvents:  map[string]int{"OnRecordAuthRequest": 1},
		}, cfg),
		cookieScenario(tests.ApiScenario{
			Name:            "a configured trusted origin passes",
			Method:          http.MethodPost,
			URL:             refresh,
			Headers:         map[string]string{"Origin": "https://shop.example.com"},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":true`},
			ExpectedEvents:  map[string]int{"OnRecordAuthRequest": 1},
		}, cfg),
		cookieScenario(tests.ApiScenario{
			Name:            "a safe method from another site is not blocked (navigation keeps the session)",
			Method:          http.MethodGet,
			URL:             "/whoami",
			Headers:         map[string]string{"Sec-Fetch-Site": "cross-site"},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"anonymous":true`},
		}, cfg),
		{
			Name:   "an explicit Authorization header wins over the cookie and is not CSRF-checked",
			Method: http.MethodPost,
			URL:    refresh,
			Headers: map[string]string{
				"Origin": "https://evil.example",
			},
			TestAppFactory: appFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				guest, token := guestToken(t, app, "users")
				value, _ := anonauth.EncodeAuthCookie(token, guest)
				withCookie(e, anonauth.CookieName+"="+value)
				_, userTok := userToken(t, app, "test@example.com")
				withAuthHeader(e, userTok)
			},
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"email":"test@example.com"`},
			NotExpectedContent: []string{`"isAnonymous":true`},
			ExpectedEvents:     map[string]int{"OnRecordAuthRequest": 1},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if findCookie(res, anonauth.CookieName) != nil {
					t.Fatal("a header-authenticated response must not set the cookie")
				}
			},
		},
	}

	scenarios = append(scenarios, cookieScenario(tests.ApiScenario{
		// Regression: the test app's users collection has MFA on. After the
		// first factor PocketBase itself writes 401 {mfaId}; that response
		// must not carry the account's session in a cookie.
		Name:            "a cookie session's first MFA factor gets no account cookie",
		Method:          http.MethodPost,
		URL:             "/api/collections/users/auth-with-password",
		Body:            strings.NewReader(`{"identity":"test@example.com","password":"1234567890"}`),
		Headers:         map[string]string{"Content-Type": "application/json"},
		ExpectedStatus:  401,
		ExpectedContent: []string{`"mfaId":"`},
		ExpectedEvents:  map[string]int{"OnRecordAuthRequest": 1},
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
			if c := findCookie(res, anonauth.CookieName); c != nil {
				t.Fatalf("MFA challenge response set a session cookie: %s", c.Value)
			}
		},
	}, cfg))

	// Tokens that are not auth tokens, forged, or garbage never authenticate.
	for name, forge := range map[string]func(*core.Record) string{
		"verification token": func(r *core.Record) string { tok, _ := r.NewVerificationToken(); return tok },
		"file token":         func(r *core.Record) string { tok, _ := r.NewFileToken(); return tok },
		"password reset":     func(r *core.Record) string { tok, _ := r.NewPasswordResetToken(); return tok },
		"bad signature": func(r *core.Record) string {
			tok, _ := r.NewAuthToken()
			return tok[:len(tok)-4] + "AAAA"
		},
		"garbage": func(*core.Record) string { return "not-a-jwt" },
	} {
		scenarios = append(scenarios, tests.ApiScenario{
			Name:           "cookie with a " + name + " is no session",
			Method:         http.MethodPost,
			URL:            refresh,
			TestAppFactory: appFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				user, _ := userToken(t, app, "test@example.com")
				value, _ := anonauth.EncodeAuthCookie(forge(user), user)
				withCookie(e, anonauth.CookieName+"="+value)
			},
			ExpectedStatus:  401,
			ExpectedContent: []string{`"status":401`},
			ExpectedEvents:  map[string]int{"*": 0},
		})
	}

	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestDecodeAuthCookieRejectsMalformedValues(t *testing.T) {
	t.Parallel()

	for _, v := range []string{"", `""`, "%zz", "%7B", "%7B%7D", "%7B%22token%22%3A%22%22%7D", "null", "%5B1%2C2%5D"} {
		if tok, err := anonauth.DecodeAuthCookie(v); err == nil {
			t.Errorf("DecodeAuthCookie(%q) = %q, want an error", v, tok)
		}
	}
	if tok, err := anonauth.DecodeAuthCookie(`"%7B%22token%22%3A%22a.b.c%22%7D"`); err != nil || tok != "a.b.c" {
		t.Errorf("quoted value: %q, %v", tok, err)
	}
}

func TestEncodeAuthCookieTrimsLargeRecords(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()

	guest, token := guestToken(t, app, "users")
	guest.Set("name", strings.Repeat("é", 3000))
	value, err := anonauth.EncodeAuthCookie(token, guest)
	if err != nil {
		t.Fatal(err)
	}
	if len(value) > 4000 {
		t.Fatalf("cookie value is %d bytes", len(value))
	}
	if got, _ := anonauth.DecodeAuthCookie(value); got != token {
		t.Fatal("trimmed cookie lost the token")
	}
	if !strings.Contains(value, guest.Id) {
		t.Fatal("trimmed cookie lost the record id")
	}
}

// TestCookieMatchesOfficialJSSDK runs the official pocketbase npm SDK: it
// must read the cookie we set, and we must read the cookie it writes.
func TestCookieMatchesOfficialJSSDK(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()

	guest, token := guestToken(t, app, "users")
	guest.Set("name", `Zoë "quoted"; semi, comma + plus % percent`)

	// Ours -> SDK, through the real Set-Cookie header of a sign-in response.
	e, rec := newRequestEvent(app)
	if err := anonauth.SetAuthCookie(e, token, guest); err != nil {
		t.Fatal(err)
	}
	header := rec.Result().Header.Get("Set-Cookie")

	var loaded struct {
		Token       string `json:"token"`
		RecordId    string `json:"recordId"`
		IsAnonymous bool   `json:"isAnonymous"`
	}
	if err := json.Unmarshal(runSDK(t, "load", header), &loaded); err != nil {
		t.Fatal(err)
	}
	if loaded.Token != token || loaded.RecordId != guest.Id || !loaded.IsAnonymous {
		t.Fatalf("SDK loaded %+v from %s", loaded, header)
	}

	// SDK -> ours.
	recordJSON, _ := json.Marshal(guest)
	sdkHeader := string(runSDK(t, "export", token, string(recordJSON)))
	value := strings.TrimPrefix(strings.SplitN(sdkHeader, ";", 2)[0], anonauth.CookieName+"=")
	got, err := anonauth.DecodeAuthCookie(value)
	if err != nil || got != token {
		t.Fatalf("decoding the SDK's cookie %q: %q, %v", sdkHeader, got, err)
	}
}

var npmOnce sync.Once

// runSDK runs testdata/jssdk/cookie.cjs with node. Without node it skips, except
// in CI (CI=true) where a missing runtime is a failure, not a pass.
func runSDK(t testing.TB, args ...string) []byte {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("testdata", "jssdk"))
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI for the JS SDK compatibility test")
		}
		t.Skip("node not found: skipping the official JS SDK compatibility check")
	}
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "pocketbase")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	cmd := exec.Command("node", append([]string{"cookie.cjs"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node cookie.cjs %v: %v", args, err)
	}
	return out
}
