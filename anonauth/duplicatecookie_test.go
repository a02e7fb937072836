package anonauth_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// TestDuplicateAuthCookieIsRefused: with two pb_auth cookies (an attacker's
// planted for a narrower path or the parent domain, and the visitor's own)
// the browser sends the narrower one first; neither is trusted and the
// request gets a 401 that says why, on safe and unsafe methods alike.
func TestDuplicateAuthCookieIsRefused(t *testing.T) {
	t.Parallel()

	twoGuests := func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		attacker, attackerToken := guestToken(t, app, "users")
		victim, victimToken := guestToken(t, app, "users")
		a, _ := anonauth.EncodeAuthCookie(attackerToken, attacker)
		v, _ := anonauth.EncodeAuthCookie(victimToken, victim)
		withCookie(e, anonauth.CookieName+"="+a+"; theme=dark; "+anonauth.CookieName+"="+v)
		e.Router.GET("/whoami", func(re *core.RequestEvent) error {
			return re.JSON(200, map[string]any{"auth": re.Auth != nil})
		})
	}

	scenarios := []tests.ApiScenario{
		{
			Name:            "auth-refresh with two pb_auth cookies → 401",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/auth-refresh",
			TestAppFactory:  appFactory(anonauth.Config{}),
			BeforeTestFunc:  twoGuests,
			ExpectedStatus:  401,
			ExpectedContent: []string{`"status":401`, "more than one pb_auth session cookie"},
			ExpectedEvents:  map[string]int{"*": 0},
		},
		{
			Name:            "a page or custom route (GET) with two pb_auth cookies → 401",
			Method:          http.MethodGet,
			URL:             "/whoami",
			TestAppFactory:  appFactory(anonauth.Config{}),
			BeforeTestFunc:  twoGuests,
			ExpectedStatus:  401,
			ExpectedContent: []string{"more than one pb_auth session cookie"},
		},
		{
			Name:            "auth-anonymously with two cookies does not pick one either",
			Method:          http.MethodPost,
			URL:             signInURL,
			TestAppFactory:  appFactory(anonauth.Config{}),
			BeforeTestFunc:  twoGuests,
			ExpectedStatus:  401,
			ExpectedContent: []string{"more than one pb_auth session cookie"},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
					t.Fatalf("the refusal must not set a cookie: %v", c)
				}
			},
		},
		{
			Name:           "an explicit Authorization header still wins (the cookies are not used)",
			Method:         http.MethodGet,
			URL:            "/whoami",
			TestAppFactory: appFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				twoGuests(t, app, e)
				_, token := userToken(t, app, "test@example.com")
				withAuthHeader(e, token)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"auth":true`},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}
