package anonauth_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// TestLoginCSRF: a request that would set or clear the session cookie is
// refused (403, no Set-Cookie, nothing written) when a browser sends it from
// another site, whether or not it carries a cookie (a cross-site form post
// carries no SameSite=Lax cookie, yet its answer would replace the
// visitor's session). Same-origin, trusted-origin and header-less clients
// (curl, mobile SDKs) pass, as with net/http.CrossOriginProtection.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()

	cfg := anonauth.Config{TrustedOrigins: []string{"https://shop.example.com"}}
	crossSite := map[string]map[string]string{
		"Origin":         {"Origin": "https://evil.example"},
		"Sec-Fetch-Site": {"Sec-Fetch-Site": "cross-site"},
		"same-site":      {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"},
	}

	noCookie := func(t testing.TB, res *http.Response) {
		t.Helper()
		if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Fatalf("a refused request must set no cookie, got %v", c)
		}
	}
	noNewGuest := func(t testing.TB, app *tests.TestApp, res *http.Response) {
		noCookie(t, res)
		if n := countGuests(t, app, "users"); n != 0 {
			t.Fatalf("a refused sign-in created %d guests", n)
		}
	}

	var scenarios []tests.ApiScenario
	for name, headers := range crossSite {
		scenarios = append(scenarios,
			tests.ApiScenario{
				Name:            "auth-anonymously, cross-site (" + name + "), no cookie → 403",
				Method:          http.MethodPost,
				URL:             signInURL,
				Headers:         headers,
				TestAppFactory:  appFactory(cfg),
				ExpectedStatus:  403,
				ExpectedContent: []string{`"status":403`, "Cross-site request rejected"},
				ExpectedEvents:  map[string]int{"*": 0},
				AfterTestFunc:   noNewGuest,
			},
			tests.ApiScenario{
				Name:            "auth-anonymously, cross-site (" + name + "), fresh over a token session → 403",
				Method:          http.MethodPost,
				URL:             signInURL + "?fresh=true",
				Headers:         headers,
				TestAppFactory:  appFactory(cfg),
				BeforeTestFunc:  guestHeader,
				ExpectedStatus:  403,
				ExpectedContent: []string{"Cross-site request rejected"},
				ExpectedEvents:  map[string]int{"*": 0},
				AfterTestFunc:   func(t testing.TB, _ *tests.TestApp, res *http.Response) { noCookie(t, res) },
			},
			tests.ApiScenario{
				Name:            "upgrade-anonymous, cross-site (" + name + "), token session → 403",
				Method:          http.MethodPost,
				URL:             "/api/collections/users/upgrade-anonymous",
				Body:            strings.NewReader(`{"email":"csrf@example.org","password":"12345678910","passwordConfirm":"12345678910"}`),
				Headers:         withJSON(headers),
				TestAppFactory:  appFactory(cfg),
				BeforeTestFunc:  guestHeader,
				ExpectedStatus:  403,
				ExpectedContent: []string{"Cross-site request rejected"},
				ExpectedEvents:  map[string]int{"*": 0},
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
					noCookie(t, res)
					if _, err := app.FindAuthRecordByEmail("users", "csrf@example.org"); err == nil {
						t.Fatal("a refused upgrade changed the guest")
					}
				},
			},
			tests.ApiScenario{
				Name:            "delete-anonymous, cross-site (" + name + "), token session → 403",
				Method:          http.MethodPost,
				URL:             "/api/collections/users/delete-anonymous",
				Headers:         headers,
				TestAppFactory:  appFactory(cfg),
				BeforeTestFunc:  guestHeader,
				ExpectedStatus:  403,
				ExpectedContent: []string{"Cross-site request rejected"},
				ExpectedEvents:  map[string]int{"*": 0},
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
					noCookie(t, res)
					if n := countGuests(t, app, "users"); n != 1 {
						t.Fatalf("a refused delete removed the guest (%d left)", n)
					}
				},
			},
		)
	}

	for name, headers := range map[string]map[string]string{
		"no Origin, no Sec-Fetch-Site (curl, mobile SDKs)":   nil,
		"Sec-Fetch-Site: same-origin":                        {"Sec-Fetch-Site": "same-origin"},
		"Origin equal to the request's own":                  {"Origin": "http://example.com"},
		"a configured trusted origin":                        {"Origin": "https://shop.example.com"},
		"a user-initiated navigation (Sec-Fetch-Site: none)": {"Sec-Fetch-Site": "none"},
	} {
		scenarios = append(scenarios, tests.ApiScenario{
			Name:            "auth-anonymously, " + name + " → 200 with the cookie",
			Method:          http.MethodPost,
			URL:             signInURL,
			Headers:         headers,
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":true`},
			ExpectedEvents:  map[string]int{"OnRecordAuthRequest": 1},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if findCookie(res, anonauth.CookieName) == nil {
					t.Fatal("an allowed sign-in must set the session cookie")
				}
			},
		})
	}

	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestLoginCSRFGoAPI: the Go API (and so the JS globals built on it) refuses
// a cross-site browser request before anything is written.
func TestLoginCSRFGoAPI(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)

	crossSite := func() (*core.RequestEvent, http.Header) {
		e, rec := newRequestEvent(app)
		e.Request.Header.Set("Sec-Fetch-Site", "cross-site")
		return e, rec.Header()
	}

	e, header := crossSite()
	if _, err := p.SignIn(e, anonauth.SignInOptions{}); !isStatus(err, 403) {
		t.Fatalf("SignIn from another site: want 403, got %v", err)
	}
	if len(header.Values("Set-Cookie")) > 0 || countGuests(t, app, "users") != 0 {
		t.Fatal("a refused SignIn must set no cookie and create no guest")
	}

	guest, _ := guestToken(t, app, "users")
	e, header = crossSite()
	e.Auth = guest
	if err := p.SignOut(e); !isStatus(err, 403) {
		t.Fatalf("SignOut from another site: want 403, got %v", err)
	}
	if len(header.Values("Set-Cookie")) > 0 || e.Auth == nil {
		t.Fatal("a refused SignOut must keep the session")
	}
	if _, err := p.Upgrade(e, anonauth.UpgradeInput{Email: "x@example.org", Password: "12345678910", PasswordConfirm: "12345678910"}); !isStatus(err, 403) {
		t.Fatalf("Upgrade from another site: want 403, got %v", err)
	}
	if err := p.DeleteAnonymous(e); !isStatus(err, 403) {
		t.Fatalf("DeleteAnonymous from another site: want 403, got %v", err)
	}

	// The same calls from the same origin work.
	e, rec := newRequestEvent(app)
	header = rec.Header()
	e.Request.Header.Set("Sec-Fetch-Site", "same-origin")
	e.Auth = guest
	if err := p.SignOut(e); err != nil || e.Auth != nil || len(header.Values("Set-Cookie")) != 1 {
		t.Fatalf("same-origin SignOut: %v, auth %v, cookies %v", err, e.Auth, header.Values("Set-Cookie"))
	}
}

// guestHeader makes the scenario's requests carry a new guest's token in the
// Authorization header (a token session: no cookie involved).
func guestHeader(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
	_, token := guestToken(t, app, "users")
	withAuthHeader(e, token)
}

func withJSON(headers map[string]string) map[string]string {
	out := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		out[k] = v
	}
	return out
}

// isStatus reports whether err is a *router.ApiError with status.
func isStatus(err error, status int) bool {
	var apiErr *router.ApiError
	return errors.As(err, &apiErr) && apiErr.Status == status
}
