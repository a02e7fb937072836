package anonauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/auth"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Issue 18 item 1: every conversion of a guest into a full account rotates
// the record's token key. Without it, an OAuth2 upgrade in place whose
// provider gives no email (or an OIDC email with email_verified=false,
// which PocketBase drops) changes neither email nor password, PocketBase
// rotates nothing, and whoever holds the guest token (planted in the
// victim's browser, copied from a shared device) keeps refreshing it into
// the victim's full account forever.

// refreshStatus sends auth-refresh with token through the scenario's own
// router (kept by BeforeTestFunc: OnServe fires once per app) and returns
// the status.
func refreshStatus(t testing.TB, r *router.Router[*core.RequestEvent], token string) int {
	t.Helper()
	mux, err := r.BuildMux()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/collections/users/auth-refresh", nil)
	req.Header.Set("Authorization", token)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Code
}

// rotated checks the outcome of a conversion: the old guest token is refused
// by auth-refresh, the token of the answer works, and (for a cookie
// session) the answer's pb_auth cookie carries that new token.
func rotated(t testing.TB, r *router.Router[*core.RequestEvent], res *http.Response, guest *core.Record, guestTok string, viaCookie bool) {
	t.Helper()
	body := readAuth(t, res)
	if body.Record["id"] != guest.Id {
		t.Fatalf("converted record id = %v, want the guest's %s", body.Record["id"], guest.Id)
	}
	if code := refreshStatus(t, r, guestTok); code != http.StatusUnauthorized {
		t.Fatalf("auth-refresh with the pre-conversion guest token = %d, want 401 (the guest token must die with the conversion)", code)
	}
	if code := refreshStatus(t, r, body.Token); code != http.StatusOK {
		t.Fatalf("auth-refresh with the token of the answer = %d, want 200", code)
	}
	if !viaCookie {
		return
	}
	c := findCookie(res, anonauth.CookieName)
	if c == nil || c.MaxAge < 0 || c.Value == "" {
		t.Fatalf("a cookie session's conversion must rewrite the pb_auth cookie, got %v", c)
	}
	token, err := anonauth.DecodeAuthCookie(c.Value)
	if err != nil {
		t.Fatal(err)
	}
	if token != body.Token {
		t.Fatal("the rewritten cookie does not carry the answer's new token")
	}
}

// enableOIDC turns on OAuth2 for users with PocketBase's own OIDC provider
// pointed at the fake server's user info.
func (f *fakeOAuth2Server) enableOIDC(t testing.TB, app core.App) {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.OAuth2.Enabled = true
	users.OAuth2.Providers = []core.OAuth2ProviderConfig{{
		Name:         auth.NameOIDC,
		ClientId:     "client",
		ClientSecret: "secret",
		AuthURL:      f.URL + "/auth",
		TokenURL:     f.URL + "/token",
		UserInfoURL:  f.URL + "/userinfo",
	}}
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
}

// rawIdentity registers the raw user info the provider returns for code.
func (f *fakeOAuth2Server) rawIdentity(code string, info map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.identities[code] = info
}

func TestConversionRotatesTheTokenKey(t *testing.T) {
	t.Parallel()

	provider := newFakeOAuth2Server(t)
	provider.identity("with-email", "sub-with-email", "victim@oauth.test")
	provider.identity("no-email", "victim-sub-1", "")
	provider.rawIdentity("oidc-unverified", map[string]any{"sub": "victim-sub-2", "email": "victim2@oauth.test", "email_verified": false})

	var (
		guest    *core.Record
		guestTok string
		srv      *router.Router[*core.RequestEvent]
	)
	// asGuest signs a guest in (Authorization header, or the pb_auth cookie
	// when viaCookie) before the scenario's request.
	asGuest := func(viaCookie bool, enable func(testing.TB, core.App)) func(testing.TB, *tests.TestApp, *core.ServeEvent) {
		return func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
			if enable != nil {
				enable(t, app)
			}
			guest, guestTok = guestToken(t, app, "users")
			srv = e.Router
			header, value := "Authorization", guestTok
			if viaCookie {
				cookie, err := anonauth.EncodeAuthCookie(guestTok, guest)
				if err != nil {
					t.Fatal(err)
				}
				header, value = "Cookie", anonauth.CookieName+"="+cookie
			}
			// Only the scenario's request: the follow-up auth-refresh
			// requests of rotated() bring their own Authorization.
			e.Router.Bind(&hook.Handler[*core.RequestEvent]{
				Priority: apis.DefaultLoadAuthTokenMiddlewarePriority - 10,
				Func: func(re *core.RequestEvent) error {
					if re.Request.Header.Get("Authorization") == "" {
						re.Request.Header.Set(header, value)
					}
					return re.Next()
				},
			})
		}
	}
	oauth2Raw := func(provider, code string) *strings.Reader {
		return strings.NewReader(`{"provider":"` + provider + `","code":"` + code + `","redirectURL":"https://example.com/cb"}`)
	}

	scenarios := []tests.ApiScenario{
		{
			Name:            "upgrade-anonymous (cookie session)",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/upgrade-anonymous",
			Body:            strings.NewReader(`{"email":"up@example.com","password":"12345678","passwordConfirm":"12345678"}`),
			Headers:         map[string]string{"Content-Type": "application/json"},
			TestAppFactory:  shopFactory(anonauth.Config{}),
			BeforeTestFunc:  asGuest(true, nil),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				rotated(t, srv, res, guest, guestTok, true)
			},
		},
		{
			Name:            "OAuth2 in place with a provider email",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/auth-with-oauth2",
			Body:            oauth2Body("with-email"),
			TestAppFactory:  shopFactory(anonauth.Config{}),
			BeforeTestFunc:  asGuest(false, provider.enable),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`, `"email":"victim@oauth.test"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				rotated(t, srv, res, guest, guestTok, false)
			},
		},
		{
			Name:            "OAuth2 in place without a provider email (the reported takeover), Authorization header",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/auth-with-oauth2",
			Body:            oauth2Body("no-email"),
			TestAppFactory:  shopFactory(anonauth.Config{}),
			BeforeTestFunc:  asGuest(false, provider.enable),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				rotated(t, srv, res, guest, guestTok, false)
			},
		},
		{
			Name:            "OAuth2 in place without a provider email, planted pb_auth cookie",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/auth-with-oauth2",
			Body:            oauth2Body("no-email"),
			TestAppFactory:  shopFactory(anonauth.Config{}),
			BeforeTestFunc:  asGuest(true, provider.enable),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				rotated(t, srv, res, guest, guestTok, true)
			},
		},
		{
			Name:            "OIDC in place with email_verified=false (PocketBase drops the email)",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/auth-with-oauth2",
			Body:            oauth2Raw(auth.NameOIDC, "oidc-unverified"),
			TestAppFactory:  shopFactory(anonauth.Config{}),
			BeforeTestFunc:  asGuest(false, provider.enableOIDC),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				rotated(t, srv, res, guest, guestTok, false)
				if reload(t, app, guest).Email() == "victim2@oauth.test" {
					t.Fatal("PocketBase should have dropped the unverified OIDC email")
				}
			},
		},
	}

	for _, sc := range scenarios {
		sc.Test(t)
	}
}
