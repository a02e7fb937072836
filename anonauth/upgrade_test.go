package anonauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

const upgradeURL = "/api/collections/users/upgrade-anonymous"

func upgradeBody(email, password, confirm string) *strings.Reader {
	return strings.NewReader(`{"email":"` + email + `","password":"` + password + `","passwordConfirm":"` + confirm + `","name":"Jane"}`)
}

func TestUpgradeAnonymous(t *testing.T) {
	t.Parallel()

	cfg := anonauth.Config{}

	// per-scenario state (scenarios run one after the other)
	var guest *core.Record
	var guestTok string
	var cart *core.Record

	// asGuest creates a guest with a cart and sends its token.
	asGuest := func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		guest, guestTok = guestToken(t, app, "users")
		cart = newCart(t, app, guest, "socks")
		withAuthHeader(e, guestTok)
	}

	// unchanged checks that a failed upgrade left the guest exactly as it was.
	unchanged := func(t testing.TB, app *tests.TestApp, res *http.Response) {
		fresh := mustGuest(t, app, guest)
		if fresh.Email() != guest.Email() {
			t.Fatalf("email changed to %q", fresh.Email())
		}
		if tokenRecordId(app, guestTok) != guest.Id {
			t.Fatal("the guest token no longer works after a failed upgrade")
		}
		if c := setCookie(res); c != "" {
			t.Fatalf("a failed upgrade set a cookie: %s", c)
		}
	}

	scenarios := []tests.ApiScenario{
		{
			Name:           "upgrades in place: same id, email, password, not anonymous, unverified, fresh token and cookie, mail",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("Jane@Example.org", "s3cret-pass", "s3cret-pass"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				app.Settings().SMTP.Enabled = true // "mail configured"
				asGuest(t, app, e)
			},
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"token":"`,
				`"isAnonymous":false`,
				`"verified":false`,
				`"email":"Jane@Example.org"`,
				`"name":"Jane"`,
			},
			NotExpectedContent: []string{`"password"`, `"tokenKey"`},
			ExpectedEvents: map[string]int{
				"OnRecordAuthRequest":        1,
				"OnRecordUpdate":             1,
				"OnRecordAfterUpdateSuccess": 1,
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := readAuth(t, res)
				if body.Record["id"] != guest.Id {
					t.Fatalf("id changed: %v != %s", body.Record["id"], guest.Id)
				}
				rec := reload(t, app, guest)
				if rec == nil || anonauth.IsAnonymous(rec) || rec.Verified() || rec.Email() != "Jane@Example.org" {
					t.Fatalf("record not upgraded: %v", rec)
				}
				if !rec.ValidatePassword("s3cret-pass") {
					t.Fatal("password not set")
				}
				// PocketBase rotated the token key: the guest token is dead,
				// the new one works and is in the cookie.
				if tokenRecordId(app, guestTok) != "" {
					t.Fatal("the guest token still works after the password change")
				}
				if tokenRecordId(app, body.Token) != guest.Id {
					t.Fatal("the new token does not authenticate the upgraded record")
				}
				c := setCookie(res)
				if c == "" {
					t.Fatal("no pb_auth cookie")
				}
				value := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], anonauth.CookieName+"=")
				cookieTok, err := anonauth.DecodeAuthCookie(value)
				if err != nil || cookieTok != body.Token {
					t.Fatalf("cookie token %q (err %v) != response token", cookieTok, err)
				}
				mustOwner(t, app, cart, guest.Id) // relations untouched: same id
				waitMails(t, app, 1)
				msg := app.TestMailer.LastMessage()
				if msg.To[0].Address != "Jane@Example.org" || !strings.Contains(msg.HTML, "verif") {
					t.Fatalf("unexpected verification mail to %v: %s", msg.To, msg.Subject)
				}
			},
		},
		{
			Name:           "cookie session upgrades too and gets the new cookie; no mail without SMTP",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("cookie@example.org", "s3cret-pass", "s3cret-pass"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				guest, guestTok = guestToken(t, app, "users")
				value, err := anonauth.EncodeAuthCookie(guestTok, guest)
				if err != nil {
					t.Fatal(err)
				}
				withCookie(e, anonauth.CookieName+"="+value)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`, `"email":"cookie@example.org"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := readAuth(t, res)
				if body.Record["id"] != guest.Id || setCookie(res) == "" {
					t.Fatal("expected the same id and a new cookie")
				}
				if n := app.TestMailer.TotalSend(); n != 0 {
					t.Fatalf("sent %d mails without SMTP configured", n)
				}
			},
		},
		{
			Name:           "email already in use → 409 with data.email, guest unchanged",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("test@example.com", "s3cret-pass", "s3cret-pass"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 409,
			ExpectedContent: []string{
				`"status":409`,
				`"message":"Email already in use."`,
				`"email":{"code":"validation_not_unique"`,
			},
			AfterTestFunc: unchanged,
		},
		{
			Name:           "invalid email → 422 with data.email",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("not-an-email", "s3cret-pass", "s3cret-pass"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 422,
			ExpectedContent: []string{
				`"status":422`,
				`"email":{"code":"validation_is_email"`,
			},
			NotExpectedContent: []string{`"password":{`, `"passwordConfirm":{`},
			AfterTestFunc:      unchanged,
		},
		{
			Name:           "password shorter than the collection's min (8) → 422 with data.password",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("short@example.org", "1234567", "1234567"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 422,
			ExpectedContent: []string{
				`"password":{"code":"validation_min_text_constraint"`,
			},
			NotExpectedContent: []string{`"email":{`},
			AfterTestFunc:      unchanged,
		},
		{
			Name:           "confirm mismatch → 422 with data.passwordConfirm",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("confirm@example.org", "s3cret-pass", "s3cret-pasS"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 422,
			ExpectedContent: []string{
				`"passwordConfirm":{"code":"validation_values_mismatch"`,
			},
			AfterTestFunc: unchanged,
		},
		{
			Name:           "empty body → 422 with every required field",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           strings.NewReader(`{}`),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 422,
			ExpectedContent: []string{
				`"email":{"code":"validation_required"`,
				`"password":{"code":"validation_required"`,
				`"passwordConfirm":{"code":"validation_required"`,
			},
			AfterTestFunc: unchanged,
		},
		{
			Name:           "regular account → 400 not anonymous",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("x@example.org", "s3cret-pass", "s3cret-pass"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				_, tok := userToken(t, app, "test@example.com")
				withAuthHeader(e, tok)
			},
			ExpectedStatus:  400,
			ExpectedContent: []string{`"message":"User is not anonymous."`},
		},
		{
			Name:            "no auth → 401",
			Method:          http.MethodPost,
			URL:             upgradeURL,
			Body:            upgradeBody("x@example.org", "s3cret-pass", "s3cret-pass"),
			TestAppFactory:  shopFactory(cfg),
			ExpectedStatus:  401,
			ExpectedContent: []string{`"status":401`},
		},
		{
			Name:            "guest of another collection → 401",
			Method:          http.MethodPost,
			URL:             "/api/collections/nologin/upgrade-anonymous",
			Body:            upgradeBody("x@example.org", "s3cret-pass", "s3cret-pass"),
			TestAppFactory:  shopFactory(anonauth.Config{Collections: []string{"users", "nologin"}}),
			BeforeTestFunc:  asGuest,
			ExpectedStatus:  401,
			ExpectedContent: []string{`belongs to collection \"users\"`},
		},
		{
			Name:           "a failure inside the transaction leaves the guest exactly as it was",
			Method:         http.MethodPost,
			URL:            upgradeURL,
			Body:           upgradeBody("rollback@example.org", "s3cret-pass", "s3cret-pass"),
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				asGuest(t, app, e)
				// fails after the UPDATE statement ran, before the commit
				app.OnRecordUpdateExecute("users").BindFunc(func(e *core.RecordEvent) error {
					if err := e.Next(); err != nil {
						return err
					}
					return router.NewBadRequestError("boom after write", nil)
				})
			},
			ExpectedStatus:  400,
			ExpectedContent: []string{`Boom after write`},
			AfterTestFunc:   unchanged,
		},
	}

	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestUpgradeGoAPI(t *testing.T) {
	t.Parallel()

	app := shopApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)

	guest, _ := guestToken(t, app, "users")
	e, rec := newRequestEvent(app)
	e.Auth = guest

	auth, err := p.Upgrade(e, anonauth.UpgradeInput{Email: "go@example.org", Password: "s3cret-pass", PasswordConfirm: "s3cret-pass"})
	if err != nil {
		t.Fatal(err)
	}
	if auth.Record.Id != guest.Id || anonauth.IsAnonymous(auth.Record) || e.Auth != auth.Record {
		t.Fatal("Upgrade did not return and set the upgraded record")
	}
	if tokenRecordId(app, auth.Token) != guest.Id {
		t.Fatal("token does not work")
	}
	if setCookie(rec.Result()) == "" {
		t.Fatal("no cookie written to the response")
	}

	// The same event again: now a regular account.
	_, err = p.Upgrade(e, anonauth.UpgradeInput{Email: "go2@example.org", Password: "s3cret-pass", PasswordConfirm: "s3cret-pass"})
	var apiErr *router.ApiError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("expected a 400 ApiError, got %v", err)
	}
}

// TestUpgradeConcurrent fires two upgrades of one guest at the same time
// through the real router: exactly one wins, the other gets a clear 400
// (or 409 if it lost on the email), and the record holds the winner's data.
// Run with -race.
func TestUpgradeConcurrent(t *testing.T) {
	t.Parallel()

	for _, sameEmail := range []bool{false, true} {
		app := shopApp(t, anonauth.Config{})
		handler := serve(t, app)
		guest, tok := guestToken(t, app, "users")

		emails := []string{"one@example.org", "two@example.org"}
		if sameEmail {
			emails[1] = emails[0]
		}

		codes := make([]int, 2)
		bodies := make([]string, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest(http.MethodPost, upgradeURL, upgradeBody(emails[i], "s3cret-pass", "s3cret-pass"))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", tok)
				res := httptest.NewRecorder()
				<-start
				handler.ServeHTTP(res, req)
				codes[i], bodies[i] = res.Code, res.Body.String()
			}()
		}
		close(start)
		wg.Wait()

		winners := 0
		winner := -1
		for i, c := range codes {
			switch {
			case c == 200:
				winners++
				winner = i
			case c == 400 && strings.Contains(bodies[i], "not anonymous"):
			case c == 401: // the winner committed first and rotated the token key before the loser was authenticated
			case c == 409 && sameEmail:
			default:
				t.Fatalf("sameEmail=%v: unexpected %d %s", sameEmail, c, bodies[i])
			}
		}
		if winners != 1 {
			t.Fatalf("sameEmail=%v: %d winners (%v %v)", sameEmail, winners, bodies[0], bodies[1])
		}
		rec := reload(t, app, guest)
		if anonauth.IsAnonymous(rec) || rec.Email() != emails[winner] {
			t.Fatalf("record does not hold the winner's data: %s", rec.Email())
		}
		app.Cleanup()
	}
}
