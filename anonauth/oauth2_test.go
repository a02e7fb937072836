package anonauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/auth"
	"github.com/pocketbase/pocketbase/tools/router"
	"golang.org/x/oauth2"

	"github.com/pocketguest/pocketguest/anonauth"
)

// fakeProviderName is a real OAuth2 provider (code exchange and user info
// over HTTP, through PocketBase's BaseProvider and golang.org/x/oauth2)
// pointed at an httptest server by the collection's provider config.
const fakeProviderName = "pocketguestfake"

func init() {
	// auth.Providers is a plain global map: register once, before any test.
	auth.Providers[fakeProviderName] = func() auth.Provider { return &fakeProvider{} }
}

type fakeProvider struct {
	auth.BaseProvider
}

func (p *fakeProvider) FetchAuthUser(token *oauth2.Token) (*auth.AuthUser, error) {
	data, err := p.FetchRawUserInfo(token)
	if err != nil {
		return nil, err
	}
	raw := map[string]any{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	user := &auth.AuthUser{RawUser: raw, AccessToken: token.AccessToken}
	user.Id, _ = raw["id"].(string)
	user.Email, _ = raw["email"].(string)
	user.Name, _ = raw["name"].(string)
	return user, nil
}

// fakeOAuth2Server answers the token exchange (code → "at-"+code) and the
// user info request (the identity registered for that code).
type fakeOAuth2Server struct {
	*httptest.Server
	mu         sync.Mutex
	identities map[string]map[string]any // code → user info
}

func newFakeOAuth2Server(t testing.TB) *fakeOAuth2Server {
	f := &fakeOAuth2Server{identities: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("code") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + r.Form.Get("code"), "token_type": "bearer", "expires_in": 3600})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		code := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer at-")
		f.mu.Lock()
		info, ok := f.identities[code]
		f.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(info)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// identity registers the user the provider returns for code.
func (f *fakeOAuth2Server) identity(code, id, email string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.identities[code] = map[string]any{"id": id, "email": email, "name": "OAuth " + id}
}

// enable turns on OAuth2 with the fake provider for the users collection.
func (f *fakeOAuth2Server) enable(t testing.TB, app core.App) {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.OAuth2.Enabled = true
	users.OAuth2.Providers = []core.OAuth2ProviderConfig{{
		Name:         fakeProviderName,
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

func oauth2Body(code string) *strings.Reader {
	return strings.NewReader(`{"provider":"` + fakeProviderName + `","code":"` + code + `","redirectURL":"https://example.com/cb"}`)
}

// linkedTo returns the record id the identity is linked to ("" if none).
func linkedTo(t testing.TB, app core.App, providerId string) string {
	t.Helper()
	ea, err := app.FindFirstExternalAuthByExpr(dbx.HashExp{"provider": fakeProviderName, "providerId": providerId})
	if err != nil {
		return ""
	}
	return ea.RecordRef()
}

func TestOAuth2WithGuestSession(t *testing.T) {
	t.Parallel()

	provider := newFakeOAuth2Server(t)
	provider.identity("new", "id-new", "fresh@oauth.test")
	provider.identity("noemail", "id-noemail", "")
	provider.identity("linked", "id-linked", "someone-else@oauth.test")
	provider.identity("byemail", "id-byemail", "test2@example.com")
	provider.identity("byemail-unverified", "id-byemail-unverified", "test@example.com")

	s := &linkState{}
	asGuest := func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		provider.enable(t, app)
		s.setup(t, app) // guest with a cart and lists; account = test@example.com
		withAuthHeader(e, s.guestTok)
	}

	scenarios := []tests.ApiScenario{
		{
			Name:           "new identity: upgrade in place (same id, provider email, verified, identity linked to the guest)",
			Method:         http.MethodPost,
			URL:            "/api/collections/users/auth-with-oauth2",
			Body:           oauth2Body("new"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"isAnonymous":false`,
				`"email":"fresh@oauth.test"`,
				`"verified":true`,
				`"isNew":false`,
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := readAuth(t, res)
				if body.Record["id"] != s.guest.Id {
					t.Fatalf("id changed: %v", body.Record["id"])
				}
				if got := linkedTo(t, app, "id-new"); got != s.guest.Id {
					t.Fatalf("identity linked to %q, want the guest's id", got)
				}
				rec := reload(t, app, s.guest)
				if anonauth.IsAnonymous(rec) || rec.Email() != "fresh@oauth.test" || !rec.Verified() {
					t.Fatalf("not upgraded: %v", rec)
				}
				if tokenRecordId(app, body.Token) != s.guest.Id {
					t.Fatal("the returned token does not work")
				}
				mustOwner(t, app, s.cart, s.guest.Id)
			},
		},
		{
			Name:           "new identity without email: upgraded in place, placeholder email kept unverified",
			Method:         http.MethodPost,
			URL:            "/api/collections/users/auth-with-oauth2",
			Body:           oauth2Body("noemail"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"isAnonymous":false`,
				`"verified":false`,
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				rec := reload(t, app, s.guest)
				if rec == nil || anonauth.IsAnonymous(rec) || rec.Email() != s.guest.Email() {
					t.Fatalf("not upgraded in place: %v", rec)
				}
				if got := linkedTo(t, app, "id-noemail"); got != s.guest.Id {
					t.Fatalf("identity linked to %q", got)
				}
			},
		},
		{
			Name:           "identity already linked to another account: signed in as that account, guest merged into it",
			Method:         http.MethodPost,
			URL:            "/api/collections/users/auth-with-oauth2",
			Body:           oauth2Body("linked"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				asGuest(t, app, e)
				ea := core.NewExternalAuth(app)
				ea.SetCollectionRef(s.account.Collection().Id)
				ea.SetRecordRef(s.account.Id)
				ea.SetProvider(fakeProviderName)
				ea.SetProviderId("id-linked")
				if err := app.Save(ea); err != nil {
					t.Fatal(err)
				}
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if body := readAuth(t, res); body.Record["id"] != s.account.Id {
					t.Fatalf("signed in as %v, want the linked account", body.Record["id"])
				}
				s.merged(t, app, true)
			},
		},
		{
			Name:           "email belongs to another (verified) account: signed in as it, identity linked to it, guest merged",
			Method:         http.MethodPost,
			URL:            "/api/collections/users/auth-with-oauth2",
			Body:           oauth2Body("byemail"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				provider.enable(t, app)
				s.setup(t, app)
				// the account is test2 (verified) here
				var err error
				s.account, err = app.FindAuthRecordByEmail("users", "test2@example.com")
				if err != nil {
					t.Fatal(err)
				}
				s.shared = newList(t, app, "shared", s.guest, s.account)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test2@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if body := readAuth(t, res); body.Record["id"] != s.account.Id {
					t.Fatalf("signed in as %v, want test2", body.Record["id"])
				}
				if got := linkedTo(t, app, "id-byemail"); got != s.account.Id {
					t.Fatalf("identity linked to %q, want test2", got)
				}
				if !reload(t, app, s.account).ValidatePassword(testPassword) {
					t.Fatal("a verified account's password must be kept")
				}
				s.merged(t, app, true)
			},
		},
		{
			Name:   "email merge with a failing OnLink: nothing linked, account and guest untouched",
			Method: http.MethodPost,
			URL:    "/api/collections/users/auth-with-oauth2",
			Body:   oauth2Body("byemail-unverified"),
			TestAppFactory: shopFactory(anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
				return router.NewBadRequestError("merge refused", nil)
			}}),
			BeforeTestFunc:     asGuest,
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"message":"Merge refused."`},
			NotExpectedContent: []string{`"token"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.untouched(t, app, res)
				if got := linkedTo(t, app, "id-byemail-unverified"); got != "" {
					t.Fatalf("identity left linked to %q after the rollback", got)
				}
				// PocketBase resets an unverified account's password when an
				// OAuth2 email claims it: rolled back with the rest.
				if !reload(t, app, s.account).ValidatePassword(testPassword) {
					t.Fatal("the account's password reset was not rolled back")
				}
			},
		},
	}

	for _, sc := range scenarios {
		sc.Test(t)
	}
}
