package anonauth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

const passwordURL = "/api/collections/users/auth-with-password"

func passwordBody(email string) *strings.Reader {
	return strings.NewReader(`{"identity":"` + email + `","password":"` + testPassword + `"}`)
}

// linkState is what a merge scenario sets up: a guest carrying a cart and two
// lists (one shared with the account), signing in to test@example.com.
type linkState struct {
	guest, account   *core.Record
	guestTok         string
	cart             *core.Record
	shared, solo     *core.Record
	events           []*anonauth.LinkEvent
	beforeCartsCount int
}

func (s *linkState) setup(t testing.TB, app *tests.TestApp) {
	s.guest, s.guestTok = guestToken(t, app, "users")
	var err error
	s.account, err = app.FindAuthRecordByEmail("users", "test@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.cart = newCart(t, app, s.guest, "socks, hat")
	s.shared = newList(t, app, "shared", s.guest, s.account)
	s.solo = newList(t, app, "solo", s.guest)
	s.events = nil
	n, _ := app.CountRecords("carts")
	s.beforeCartsCount = int(n)
}

// merged checks the default merge outcome.
func (s *linkState) merged(t testing.TB, app *tests.TestApp, guestDeleted bool) {
	t.Helper()
	mustOwner(t, app, s.cart, s.account.Id)
	if got := reload(t, app, s.shared).GetStringSlice("members"); !slices.Equal(got, []string{s.account.Id}) {
		t.Fatalf("shared list members = %v, want just the account (no duplicate)", got)
	}
	if got := reload(t, app, s.solo).GetStringSlice("members"); !slices.Equal(got, []string{s.account.Id}) {
		t.Fatalf("solo list members = %v, want the account", got)
	}
	if guestDeleted {
		mustGone(t, app, s.guest)
	} else {
		mustGuest(t, app, s.guest)
	}
}

// untouched checks that a failed merge lost and changed nothing.
func (s *linkState) untouched(t testing.TB, app *tests.TestApp, res *http.Response) {
	t.Helper()
	mustGuest(t, app, s.guest)
	mustOwner(t, app, s.cart, s.guest.Id)
	if got := reload(t, app, s.cart).GetString("items"); got != "socks, hat" {
		t.Fatalf("cart items changed to %q", got)
	}
	if got := reload(t, app, s.shared).GetStringSlice("members"); !slices.Equal(got, []string{s.guest.Id, s.account.Id}) {
		t.Fatalf("shared list members changed to %v", got)
	}
	if n, _ := app.CountRecords("carts"); int(n) != s.beforeCartsCount {
		t.Fatalf("carts count changed: %d != %d", n, s.beforeCartsCount)
	}
	if tokenRecordId(app, s.guestTok) != s.guest.Id {
		t.Fatal("the guest session no longer works")
	}
	if res != nil && setCookie(res) != "" {
		t.Fatalf("a failed sign-in set a session cookie: %s", setCookie(res))
	}
}

func TestLinkOnPasswordSignIn(t *testing.T) {
	t.Parallel()

	s := &linkState{}
	record := func(e *anonauth.LinkEvent) error {
		s.events = append(s.events, e)
		return nil
	}

	scenarios := []tests.ApiScenario{
		{
			Name:           "guest signs in with a password: merged into the account, relations re-pointed, guest deleted",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{OnLink: record}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`, `"token":"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := readAuth(t, res)
				if body.Record["id"] != s.account.Id {
					t.Fatalf("signed in as %v, want the account", body.Record["id"])
				}
				if len(s.events) != 1 {
					t.Fatalf("OnLink called %d times", len(s.events))
				}
				ev := s.events[0]
				if ev.Anonymous.Id != s.guest.Id || ev.Account.Id != s.account.Id || ev.AuthMethod != "password" || ev.RequestEvent == nil || !ev.App.IsTransactional() {
					t.Fatalf("unexpected event: %+v", ev)
				}
				if ev.Transferred != 3 {
					t.Fatalf("Transferred = %d, want 3 (cart, 2 lists)", ev.Transferred)
				}
				s.merged(t, app, true)
			},
		},
		{
			Name:           "cookie session: the response cookie is the account's session",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				value, err := anonauth.EncodeAuthCookie(s.guestTok, s.guest)
				if err != nil {
					t.Fatal(err)
				}
				withCookie(e, anonauth.CookieName+"="+value)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				c := setCookie(res)
				value := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], anonauth.CookieName+"=")
				tok, err := anonauth.DecodeAuthCookie(value)
				if err != nil || tokenRecordId(app, tok) != s.account.Id {
					t.Fatalf("cookie is not the account's session: %q (%v)", c, err)
				}
				s.merged(t, app, true)
			},
		},
		{
			Name:           "wrong password with a guest session: 400, nothing merged",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           strings.NewReader(`{"identity":"test@example.com","password":"wrong-password"}`),
			TestAppFactory: shopFactory(anonauth.Config{OnLink: record}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if len(s.events) != 0 {
					t.Fatal("OnLink ran for a failed sign-in")
				}
				s.untouched(t, app, res)
			},
		},
		{
			Name:   "OnLink fails midway (after its own write): sign-in aborted, nothing lost or changed",
			Method: http.MethodPost,
			URL:    passwordURL,
			Body:   passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
				// a partial data move through the transactional app...
				cart, err := e.App.FindFirstRecordByData("carts", "owner", e.Anonymous.Id)
				if err != nil {
					return err
				}
				cart.Set("items", "moved")
				cart.Set("owner", e.Account.Id)
				if err := e.App.Save(cart); err != nil {
					return err
				}
				// ...then a failure
				return router.NewApiError(http.StatusConflict, "cannot merge carts", nil)
			}}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:     409,
			ExpectedContent:    []string{`"message":"Cannot merge carts."`},
			NotExpectedContent: []string{`"token"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.untouched(t, app, res)
			},
		},
		{
			Name:           "a hook failing after e.Next() (data already moved, guest deleted) rolls everything back; cookie session kept",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				value, _ := anonauth.EncodeAuthCookie(s.guestTok, s.guest)
				withCookie(e, anonauth.CookieName+"="+value)
				anonauth.FromApp(app).OnLink().BindFunc(func(e *anonauth.LinkEvent) error {
					if err := e.Next(); err != nil {
						return err
					}
					// at this point the data is moved and the guest deleted...
					_, err := e.App.FindRecordById("users", e.Anonymous.Id)
					if e.Transferred != 3 || err == nil {
						t.Errorf("expected the default action done before the failure (transferred %d, guest lookup err %v)", e.Transferred, err)
					}
					// ...and then the hook fails
					return errors.New("late failure")
				})
			},
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.untouched(t, app, res)
			},
		},
		{
			Name:           "DisableDelete: data moved, guest kept (still anonymous)",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{DisableDelete: true}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.merged(t, app, false)
			},
		},
		{
			Name:           "DisableRelationTransfer: nothing re-pointed, guest deleted with PocketBase's delete rules (relations unset)",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{DisableRelationTransfer: true}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				mustGone(t, app, s.guest)
				mustOwner(t, app, s.cart, "")
				if got := reload(t, app, s.shared).GetStringSlice("members"); !slices.Equal(got, []string{s.account.Id}) {
					t.Fatalf("shared members = %v", got)
				}
			},
		},
		{
			Name:   "per-merge opt-out: a handler sets e.TransferRelations = false and moves the data itself",
			Method: http.MethodPost,
			URL:    passwordURL,
			Body:   passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
				e.TransferRelations = false
				cart, err := e.App.FindFirstRecordByData("carts", "owner", e.Anonymous.Id)
				if err != nil {
					return err
				}
				cart.Set("owner", e.Account.Id)
				return e.App.Save(cart)
			}}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				mustGone(t, app, s.guest)
				mustOwner(t, app, s.cart, s.account.Id)
				if got := reload(t, app, s.solo).GetStringSlice("members"); len(got) != 0 {
					t.Fatalf("solo members = %v, want unset (not transferred)", got)
				}
			},
		},
		{
			Name:           "guest merged by a concurrent request (double submit) in the meantime: the sign-in still succeeds",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{OnLink: record}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				s.setup(t, app)
				stale := s.guest
				if err := anonauth.FromApp(app).Link(app, s.guest, s.account); err != nil {
					t.Fatal(err)
				}
				s.events = nil
				// the request authenticated as the guest just before the other one committed
				e.Router.Bind(&hook.Handler[*core.RequestEvent]{
					Priority: apis.DefaultLoadAuthTokenMiddlewarePriority + 1,
					Func: func(re *core.RequestEvent) error {
						re.Auth = stale
						return re.Next()
					},
				})
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"test@example.com"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if len(s.events) != 0 {
					t.Fatal("OnLink ran for a guest that is already gone")
				}
				s.merged(t, app, true)
			},
		},
		{
			Name:           "one cart per user (unique index) and both have one: 409, nothing lost",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				carts, _ := app.FindCollectionByNameOrId("carts")
				carts.AddIndex("idx_one_cart", true, "owner", "")
				if err := app.Save(carts); err != nil {
					t.Fatal(err)
				}
				s.setup(t, app)
				newCart(t, app, s.account, "account's own")
				s.beforeCartsCount++
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  409,
			ExpectedContent: []string{`Cannot merge the guest's data`, `carts`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.untouched(t, app, res)
			},
		},
	}

	for _, sc := range scenarios {
		sc.Test(t)
	}
}

// TestLinkOnOTPAndMFA signs a guest in with an OTP, and with MFA (password
// then OTP): only the completed sign-in merges.
func TestLinkOnOTPAndMFA(t *testing.T) {
	t.Parallel()

	for _, mfa := range []bool{false, true} {
		app := shopApp(t, anonauth.Config{})
		s := &linkState{}
		s.setup(t, app)

		users := s.account.Collection()
		users.OTP.Enabled = true
		users.MFA.Enabled = mfa
		if err := app.Save(users); err != nil {
			t.Fatal(err)
		}
		handler := serve(t, app)

		post := func(url, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", s.guestTok)
			res := httptest.NewRecorder()
			handler.ServeHTTP(res, req)
			return res
		}

		mfaId := ""
		if mfa {
			res := post(passwordURL, `{"identity":"test@example.com","password":"`+testPassword+`"}`)
			if res.Code != 401 || !strings.Contains(res.Body.String(), "mfaId") {
				t.Fatalf("first factor: %d %s", res.Code, res.Body)
			}
			var body struct{ MfaId string }
			_ = json.Unmarshal(res.Body.Bytes(), &body)
			mfaId = body.MfaId
			s.untouched(t, app, res.Result()) // first factor alone merges nothing
			if _, err := app.FindMFAById(mfaId); err != nil {
				t.Fatalf("the MFA record was not kept: %v", err)
			}
		}

		otp := core.NewOTP(app)
		otp.SetCollectionRef(users.Id)
		otp.SetRecordRef(s.account.Id)
		otp.SetPassword("123456")
		if err := app.Save(otp); err != nil {
			t.Fatal(err)
		}

		res := post("/api/collections/users/auth-with-otp", `{"otpId":"`+otp.Id+`","password":"123456","mfaId":"`+mfaId+`"}`)
		if res.Code != 200 {
			t.Fatalf("mfa=%v: OTP sign-in: %d %s", mfa, res.Code, res.Body)
		}
		s.merged(t, app, true)
		app.Cleanup()
	}
}

func TestLinkGoAPI(t *testing.T) {
	t.Parallel()

	app := shopApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	s := &linkState{}
	s.setup(t, app)

	var apiErr *router.ApiError

	// not a guest
	if err := p.Link(app, s.account, s.account); !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("expected 400, got %v", err)
	}
	// guest into a guest
	other, _ := guestToken(t, app, "users")
	if err := p.Link(app, s.guest, other); !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("expected 400, got %v", err)
	}
	s.untouched(t, app, nil)

	// inside the caller's own transaction
	err := app.RunInTransaction(func(txApp core.App) error {
		return p.Link(txApp, s.guest, s.account)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.merged(t, app, true)

	// the guest is gone now
	if err := p.Link(app, s.guest, s.account); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("expected 404 for a merged guest, got %v", err)
	}
}
