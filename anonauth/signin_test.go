package anonauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pocketguest/pocketguest/anonauth"
)

const signInURL = "/api/collections/users/auth-anonymously"

// authBody is the JSON of an auth response.
type authBody struct {
	Token  string         `json:"token"`
	Record map[string]any `json:"record"`
}

func decodeAuth(t testing.TB, res *http.Response) authBody {
	t.Helper()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body authBody
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("auth response is not JSON: %v\n%s", err, raw)
	}
	return body
}

func countGuests(t testing.TB, app core.App, collection string) int {
	t.Helper()
	n, err := app.CountRecords(collection, dbxHashExp(anonauth.FieldIsAnonymous, true))
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestAuthAnonymously(t *testing.T) {
	t.Parallel()

	cfg := anonauth.Config{Collections: []string{"users", "nologin"}}

	scenarios := []tests.ApiScenario{
		{
			Name:           "creates a flagged, unverified guest and returns {token, record} with a cookie",
			Method:         http.MethodPost,
			URL:            signInURL,
			TestAppFactory: appFactory(cfg),
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"token":"`,
				`"isAnonymous":true`,
				`"verified":false`,
				`"email":"anonymous-`,
				`@example.com"`,
			},
			NotExpectedContent: []string{`"password"`, `"tokenKey"`},
			ExpectedEvents: map[string]int{
				"*":                          0,
				"OnRecordAuthRequest":        1,
				"OnRecordCreate":             1,
				"OnRecordCreateExecute":      1,
				"OnRecordAfterCreateSuccess": 1,
				"OnRecordValidate":           1,
				"OnRecordEnrich":             1,
				"OnModelCreate":              1,
				"OnModelCreateExecute":       1,
				"OnModelAfterCreateSuccess":  1,
				"OnModelValidate":            1,
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				body := decodeAuth(t, res)
				rec, err := app.FindAuthRecordByToken(body.Token, core.TokenTypeAuth)
				if err != nil {
					t.Fatalf("the returned token is not a valid auth token: %v", err)
				}
				if rec.Id != body.Record["id"] || !rec.GetBool("isAnonymous") || rec.Verified() {
					t.Fatalf("stored record does not match: %v", rec.PublicExport())
				}
				cookie := findCookie(res, anonauth.CookieName)
				if cookie == nil {
					t.Fatal("no pb_auth cookie set")
				}
				if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Secure {
					t.Fatalf("unexpected cookie attributes: %+v", cookie)
				}
				token, err := anonauth.DecodeAuthCookie(cookie.Value)
				if err != nil || token != body.Token {
					t.Fatalf("cookie does not carry the token: %q, %v", token, err)
				}
			},
		},
		{
			Name:            "works on a collection with password auth disabled",
			Method:          http.MethodPost,
			URL:             "/api/collections/nologin/auth-anonymously",
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"collectionName":"nologin"`, `"isAnonymous":true`},
			ExpectedEvents:  map[string]int{"OnRecordAuthRequest": 1, "OnRecordCreate": 1},
		},
		{
			Name:            "unknown collection is 404",
			Method:          http.MethodPost,
			URL:             "/api/collections/missing/auth-anonymously",
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`, `"message":"Missing collection \"missing\"."`, `"data":{}`},
			ExpectedEvents:  map[string]int{"*": 0},
		},
		{
			Name:            "non-auth collection is 400",
			Method:          http.MethodPost,
			URL:             "/api/collections/demo1/auth-anonymously",
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`, `is not an auth collection`},
			ExpectedEvents:  map[string]int{"*": 0},
		},
		{
			Name:            "auth collection not enabled is 403",
			Method:          http.MethodPost,
			URL:             "/api/collections/clients/auth-anonymously",
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  403,
			ExpectedContent: []string{`"status":403`, `Anonymous sign-in is not enabled for collection \"clients\"`},
			ExpectedEvents:  map[string]int{"*": 0},
		},
		{
			Name:            "a malformed body is 400",
			Method:          http.MethodPost,
			URL:             signInURL,
			Body:            strings.NewReader(`{"fresh":`),
			Headers:         map[string]string{"Content-Type": "application/json"},
			TestAppFactory:  appFactory(cfg),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`, `Failed to read the request body`},
			ExpectedEvents:  map[string]int{"*": 0},
		},
		{
			Name:           "a signed-in full account is refused (no silent account switch)",
			Method:         http.MethodPost,
			URL:            signInURL,
			TestAppFactory: appFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				_, token := userToken(t, app, "test@example.com")
				withAuthHeader(e, token)
			},
			ExpectedStatus:  400,
			ExpectedContent: []string{`already signed in with a non-anonymous account`},
			ExpectedEvents:  map[string]int{"*": 0},
		},
	}

	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestAuthAnonymouslyReusesGuestSession checks the documented choice: a guest
// who signs in again gets the same record back (nothing orphaned), unless
// they ask for a fresh one.
func TestAuthAnonymouslyReusesGuestSession(t *testing.T) {
	t.Parallel()

	for _, fresh := range []string{"", "?fresh=true", "body"} {
		t.Run("fresh="+fresh, func(t *testing.T) {
			var guestId string
			var before int
			s := tests.ApiScenario{
				Method:         http.MethodPost,
				URL:            signInURL,
				TestAppFactory: appFactory(anonauth.Config{}),
				BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
					guest, token := guestToken(t, app, "users")
					guestId = guest.Id
					before = countGuests(t, app, "users")
					withAuthHeader(e, token)
				},
				ExpectedStatus:  200,
				ExpectedContent: []string{`"isAnonymous":true`},
				ExpectedEvents:  map[string]int{"OnRecordAuthRequest": 1},
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
					body := decodeAuth(t, res)
					after := countGuests(t, app, "users")
					wantNew := fresh != ""
					if gotNew := body.Record["id"] != guestId; gotNew != wantNew {
						t.Fatalf("new guest = %v, want %v", gotNew, wantNew)
					}
					if wantNew && after != before+1 || !wantNew && after != before {
						t.Fatalf("guest count %d -> %d (fresh=%q)", before, after, fresh)
					}
				},
			}
			switch fresh {
			case "?fresh=true":
				s.URL += fresh
			case "body":
				s.Body = strings.NewReader(`{"fresh":true}`)
				s.Headers = map[string]string{"Content-Type": "application/json"}
			}
			s.Test(t)
		})
	}
}

func TestGuestCannotLogInWithPassword(t *testing.T) {
	t.Parallel()

	const guestEmail = "guest-fixed@example.com"
	cfg := anonauth.Config{
		GenerateEmail: func(*core.Collection) (string, error) { return guestEmail, nil },
	}

	app := newTestApp(t, cfg)
	guest, _ := guestToken(t, app, "users")
	hash := guest.GetString("password:hash")
	app.Cleanup()

	if !guest.Collection().PasswordAuth.Enabled {
		t.Fatal("precondition: users must have password auth enabled")
	}
	if !strings.HasPrefix(hash, "!anonymous:") {
		t.Fatalf("guest hash should be the unusable marker, got %q", hash)
	}

	// Every password we can think of, including the stored hash itself and
	// the empty string, must be refused, in Go and by PocketBase's endpoint.
	for _, password := range []string{"", hash, strings.TrimPrefix(hash, "!anonymous:"), "1234567890"} {
		if guest.ValidatePassword(password) {
			t.Fatalf("ValidatePassword(%q) = true", password)
		}
		(&tests.ApiScenario{
			Name:   "auth-with-password " + password,
			Method: http.MethodPost,
			URL:    "/api/collections/users/auth-with-password",
			Body: strings.NewReader(fmt.Sprintf(`{"identity":%q,"password":%q}`,
				guestEmail, password)),
			Headers: map[string]string{"Content-Type": "application/json"},
			TestAppFactory: func(t testing.TB) *tests.TestApp {
				app := newTestApp(t, cfg)
				guestToken(t, app, "users")
				return app
			},
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"status":400`},
			NotExpectedContent: []string{`"token"`},
			ExpectedEvents:     map[string]int{"OnRecordAuthRequest": 0},
		}).Test(t)
	}
}

func TestCreateGuestRetriesEmailCollisions(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	app := newTestApp(t, anonauth.Config{
		GenerateEmail: func(*core.Collection) (string, error) {
			// Collide with an existing user twice, then succeed.
			if calls.Add(1) <= 2 {
				return "test@example.com", nil
			}
			return "fresh-" + security.RandomString(8) + "@example.com", nil
		},
	})
	defer app.Cleanup()

	rec, _ := guestToken(t, app, "users")
	if calls.Load() != 3 || !strings.HasPrefix(rec.Email(), "fresh-") {
		t.Fatalf("calls = %d, email = %q", calls.Load(), rec.Email())
	}
}

func TestCreateGuestGivesUpOnABrokenGenerator(t *testing.T) {
	t.Parallel()

	(&tests.ApiScenario{
		Method: http.MethodPost,
		URL:    signInURL,
		TestAppFactory: appFactory(anonauth.Config{
			GenerateEmail: func(*core.Collection) (string, error) { return "test@example.com", nil },
		}),
		ExpectedStatus:  409,
		ExpectedContent: []string{`"status":409`, `Could not generate a unique guest email or other generated value after 5 attempts`},
		ExpectedEvents:  map[string]int{"*": 0, "OnRecordCreate": 5, "OnRecordCreateExecute": 5, "OnRecordValidate": 5, "OnRecordAfterCreateError": 5, "OnModelCreate": 5, "OnModelCreateExecute": 5, "OnModelValidate": 5, "OnModelAfterCreateError": 5},
	}).Test(t)
}

// TestCreateGuestRetriesAutogeneratedFieldCollisions: a unique text field
// with an autogenerate pattern is regenerated on each attempt, and a pattern
// that can only collide ends in a clear 409, not a 500.
func TestCreateGuestRetriesAutogeneratedFieldCollisions(t *testing.T) {
	t.Parallel()

	var attempts int
	(&tests.ApiScenario{
		Method: http.MethodPost,
		URL:    signInURL,
		TestAppFactory: func(t testing.TB) *tests.TestApp {
			app := newTestApp(t, anonauth.Config{})
			users, _ := app.FindCollectionByNameOrId("users")
			users.Fields.Add(&core.TextField{Name: "code", AutogeneratePattern: "same"})
			users.AddIndex("idx_users_code", true, "code", "code != ''")
			if err := app.Save(users); err != nil {
				t.Fatal(err)
			}
			guestToken(t, app, "users") // takes the only possible value
			app.OnRecordCreateExecute("users").BindFunc(func(e *core.RecordEvent) error {
				attempts++
				return e.Next()
			})
			return app
		},
		ExpectedStatus:  409,
		ExpectedContent: []string{`"status":409`, `Could not generate a unique guest email or other generated value after 5 attempts`},
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
			if attempts != 5 {
				t.Fatalf("attempts = %d, want 5", attempts)
			}
		},
	}).Test(t)
}

func TestSignInGoAPI(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{Collections: []string{"users", "nologin"}, GenerateName: func(*core.Collection) string { return "Guest" }})
	defer app.Cleanup()
	p := anonauth.FromApp(app)

	newEvent := func() (*core.RequestEvent, *httptest.ResponseRecorder) { return newRequestEvent(app) }

	e, rec := newEvent()
	auth, err := p.SignIn(e, anonauth.SignInOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Auth == nil || e.Auth.Id != auth.Record.Id {
		t.Fatal("SignIn must set e.Auth to the new guest")
	}
	if auth.Record.GetString("name") != "Guest" {
		t.Fatalf("GenerateName not applied: %q", auth.Record.GetString("name"))
	}
	if c := findCookie(rec.Result(), anonauth.CookieName); c == nil {
		t.Fatal("SignIn must set the pb_auth cookie on the response")
	}

	// The guest token lives the configured guest lifetime, not the collection's.
	claims, _ := security.ParseUnverifiedJWT(auth.Token)
	exp, _ := claims.GetExpirationTime()
	iat := exp.Time.Add(-p.Config().TokenDuration)
	if d := iat.Sub(auth.Record.GetDateTime("created").Time()); d < -5e9 || d > 5e9 {
		t.Fatalf("token expiry %v is not created+TokenDuration", exp)
	}

	// Errors are *router.ApiError with the HTTP status.
	for name, want := range map[string]int{"missing": 404, "demo1": 400, "clients": 403} {
		e, _ := newEvent()
		_, err := p.SignIn(e, anonauth.SignInOptions{Collection: name})
		var apiErr *router.ApiError
		if !errors.As(err, &apiErr) || apiErr.Status != want {
			t.Fatalf("%s: got %v, want status %d", name, err, want)
		}
	}

	// Collection option creates and signs in in that collection.
	e, _ = newEvent()
	auth, err = p.SignIn(e, anonauth.SignInOptions{Collection: "nologin"})
	if err != nil || auth.Record.Collection().Name != "nologin" {
		t.Fatalf("nologin sign-in: %v", err)
	}
}

func findCookie(res *http.Response, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == name {
			found = c // the last one wins, as in a browser
		}
	}
	return found
}

// TestGuestTokenLifetimeOnAuthResponses: the endpoint and auth-refresh hand a
// guest a token that lives Config.TokenDuration, whether or not it differs
// from the collection's own token duration (7 days in the test data).
func TestGuestTokenLifetimeOnAuthResponses(t *testing.T) {
	t.Parallel()

	for _, lifetime := range []time.Duration{2 * time.Hour, 7 * 24 * time.Hour} {
		for _, url := range []string{signInURL, "/api/collections/users/auth-refresh"} {
			(&tests.ApiScenario{
				Name:           fmt.Sprintf("%s %s", lifetime, url),
				Method:         http.MethodPost,
				URL:            url,
				TestAppFactory: appFactory(anonauth.Config{TokenDuration: lifetime}),
				BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
					if url != signInURL {
						_, token := guestToken(t, app, "users")
						withAuthHeader(e, token)
					}
				},
				ExpectedStatus:  200,
				ExpectedContent: []string{`"isAnonymous":true`},
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
					body := decodeAuth(t, res)
					claims, err := security.ParseUnverifiedJWT(body.Token)
					if err != nil {
						t.Fatal(err)
					}
					exp, _ := claims.GetExpirationTime()
					if d := time.Until(exp.Time) - lifetime; d < -time.Minute || d > time.Minute {
						t.Fatalf("token lives %v, want %v", time.Until(exp.Time), lifetime)
					}
					if url == signInURL {
						if token, _ := anonauth.DecodeAuthCookie(findCookie(res, anonauth.CookieName).Value); token != body.Token {
							t.Fatal("the cookie must carry the response's token")
						}
					}
				},
			}).Test(t)
		}
	}
}
