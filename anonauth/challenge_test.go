package anonauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// The challenge tests run on sliding_test.go's fakeClock: time moves only
// when a test says so.

// powConfig is anonauth with the proof-of-work challenge on (a small
// difficulty: the tests solve it in Go).
func powConfig() anonauth.Config {
	return anonauth.Config{
		Collections: []string{"users", "nologin"},
		Challenge:   anonauth.ChallengeConfig{Provider: anonauth.ChallengePow, MaxNumber: 1000, TTL: 5 * time.Minute},
	}
}

// powApp is a test app with cfg and the challenge clock injected.
func powApp(cfg anonauth.Config, clock *fakeClock) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp {
		app := newTestApp(t, cfg)
		anonauth.SetChallengeClock(anonauth.FromApp(app), clock.now)
		return app
	}
}

// solvePow solves an ALTCHA challenge by brute force and returns the
// payload the altcha widget would submit.
func solvePow(t testing.TB, c map[string]any) string {
	t.Helper()
	salt, _ := c["salt"].(string)
	want, _ := c["challenge"].(string)
	max := int(c["maxnumber"].(int))
	for n := 0; n <= max; n++ {
		sum := sha256.Sum256([]byte(salt + strconv.Itoa(n)))
		if hex.EncodeToString(sum[:]) == want {
			raw, _ := json.Marshal(map[string]any{
				"algorithm": c["algorithm"], "challenge": want, "number": n,
				"salt": salt, "signature": c["signature"], "took": 1,
			})
			return base64.StdEncoding.EncodeToString(raw)
		}
	}
	t.Fatalf("no solution found for %v", c)
	return ""
}

// solved issues and solves a challenge of collection in app.
func solved(t testing.TB, app core.App, collection string) string {
	return solvePow(t, anonauth.IssuePowChallenge(anonauth.FromApp(app), app, collection, 1000))
}

// deferredBody is a request body written in BeforeTestFunc, once the
// scenario's app (and so its challenge key) exists.
type deferredBody struct {
	s string
	r io.Reader
}

func (b *deferredBody) Read(p []byte) (int, error) {
	if b.r == nil {
		b.r = strings.NewReader(b.s)
	}
	return b.r.Read(p)
}

func TestChallengeSignIn(t *testing.T) {
	t.Parallel()

	type tc struct {
		name    string
		cfg     anonauth.Config
		url     string
		headers map[string]string
		body    *deferredBody
		// prepare runs with the app before the request: it returns the
		// solution to send (in the header unless body is set).
		prepare func(t testing.TB, app *tests.TestApp, clock *fakeClock) string
		status  int
		content []string
		guests  int // guests in users after the request
	}
	solution := func(t testing.TB, app *tests.TestApp, _ *fakeClock) string { return solved(t, app, "users") }

	cases := []tc{
		{
			name:    "no solution → 400 challenge required, with the challenge URL in data",
			cfg:     powConfig(),
			status:  400,
			content: []string{`"message":"Challenge required`, `"challengeUrl":"/api/collections/users/anonymous-challenge"`, `"field":"altcha"`, `"provider":"pow"`},
		},
		{
			name:    "solution in the X-Anonymous-Challenge header → guest",
			cfg:     powConfig(),
			prepare: solution,
			status:  200,
			content: []string{`"isAnonymous":true`},
			guests:  1,
		},
		{
			name:    "solution in the JSON body field altcha → guest",
			cfg:     powConfig(),
			body:    &deferredBody{},
			prepare: solution,
			status:  200,
			content: []string{`"isAnonymous":true`},
			guests:  1,
		},
		{
			name:    "solution in the form field altcha → guest",
			cfg:     powConfig(),
			body:    &deferredBody{},
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			prepare: solution,
			status:  200,
			content: []string{`"isAnonymous":true`},
			guests:  1,
		},
		{
			name: "replayed solution → 400",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				s := solved(t, app, "users")
				signInWith(t, app, s, 200)
				return s
			},
			status:  400,
			content: []string{`already used`},
			guests:  1,
		},
		{
			name: "expired challenge → 400",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				s := solved(t, app, "users")
				clock.advance(5*time.Minute + time.Second)
				return s
			},
			status:  400,
			content: []string{`"message":"The challenge has expired.`},
		},
		{
			name: "a challenge just before its expiry is accepted",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				s := solved(t, app, "users")
				clock.advance(5*time.Minute - time.Second) // expiry has whole-second resolution
				return s
			},
			status: 200,
			guests: 1,
		},
		{
			name: "tampered signature → 400",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				c := anonauth.IssuePowChallenge(anonauth.FromApp(app), app, "users", 1000)
				sig := []byte(c["signature"].(string))
				sig[0] ^= 1
				c["signature"] = string(sig)
				return solvePow(t, c)
			},
			status:  400,
			content: []string{`wrong or was not issued by this server`},
		},
		{
			name: "wrong number → 400",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				raw, _ := base64.StdEncoding.DecodeString(solved(t, app, "users"))
				var p map[string]any
				json.Unmarshal(raw, &p)
				p["number"] = p["number"].(float64) + 1
				raw, _ = json.Marshal(p)
				return base64.StdEncoding.EncodeToString(raw)
			},
			status:  400,
			content: []string{`wrong or was not issued by this server`},
		},
		{
			name:    "a challenge of another collection → 400",
			cfg:     powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, _ *fakeClock) string { return solved(t, app, "nologin") },
			status:  400,
			content: []string{`issued for another collection`},
		},
		{
			name:    "garbage → 400",
			cfg:     powConfig(),
			prepare: func(testing.TB, *tests.TestApp, *fakeClock) string { return "not-a-solution" },
			status:  400,
			content: []string{`not valid base64-encoded ALTCHA JSON`},
		},
		{
			name: "a challenge issued before a restart → 400",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				s := solved(t, app, "users")
				clock.advance(time.Minute)
				anonauth.SimulateRestart(anonauth.FromApp(app), clock.now())
				return s
			},
			status:  400,
			content: []string{`issued before the server restarted`},
		},
		{
			name: "the rate limit still applies",
			cfg: func() anonauth.Config {
				c := powConfig()
				c.RateLimit = 1
				return c
			}(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				signInWith(t, app, solved(t, app, "users"), 200)
				return solved(t, app, "users")
			},
			status:  429,
			content: []string{`Too many anonymous sign-ins`},
			guests:  1,
		},
		{
			name: "replay ledger full of live solutions → 503 with Retry-After",
			cfg: func() anonauth.Config {
				c := powConfig()
				c.Challenge.MaxSpent = 1
				return c
			}(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				signInWith(t, app, solved(t, app, "users"), 200)
				return solved(t, app, "users")
			},
			headers: map[string]string{},
			status:  503,
			content: []string{`Too many sign-in challenges`},
			guests:  1,
		},
		{
			name: "the ledger makes room once solutions expire",
			cfg: func() anonauth.Config {
				c := powConfig()
				c.Challenge.MaxSpent = 1
				return c
			}(),
			prepare: func(t testing.TB, app *tests.TestApp, clock *fakeClock) string {
				signInWith(t, app, solved(t, app, "users"), 200)
				clock.advance(6 * time.Minute) // the first one's challenge has expired
				return solved(t, app, "users")
			},
			status: 200,
			guests: 2,
		},
		{
			name: "superusers need no challenge",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, _ *fakeClock) string {
				su, err := app.FindAuthRecordByEmail(core.CollectionNameSuperusers, "test@example.com")
				if err != nil {
					t.Fatal(err)
				}
				token, _ := su.NewAuthToken()
				headersOf(app)["Authorization"] = token
				return ""
			},
			status: 200,
			guests: 1,
		},
		{
			name: "a request with a guest session gets it back without a challenge",
			cfg:  powConfig(),
			prepare: func(t testing.TB, app *tests.TestApp, _ *fakeClock) string {
				_, token := guestToken(t, app, "users")
				headersOf(app)["Authorization"] = token
				return ""
			},
			status: 200,
			guests: 1, // the existing one, no new row
		},
		{
			name:    "challenge off: no solution needed",
			cfg:     anonauth.Config{},
			status:  200,
			guests:  1,
			content: []string{`"isAnonymous":true`},
		},
	}

	for _, c := range cases {
		clock := newFakeClock()
		headers := map[string]string{}
		for k, v := range c.headers {
			headers[k] = v
		}
		target := c.url
		if target == "" {
			target = signInURL
		}
		s := tests.ApiScenario{
			Name:           c.name,
			Method:         http.MethodPost,
			URL:            target,
			Headers:        headers,
			TestAppFactory: powApp(c.cfg, clock),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				scenarioHeaders.Store(app, headers)
				if c.prepare == nil {
					return
				}
				sol := c.prepare(t, app, clock)
				switch {
				case sol == "":
				case c.body == nil:
					headers[anonauth.ChallengeHeader] = sol
				case headers["Content-Type"] == "application/x-www-form-urlencoded":
					c.body.s = "altcha=" + url.QueryEscape(sol)
				default:
					raw, _ := json.Marshal(map[string]string{anonauth.PowField: sol})
					c.body.s = string(raw)
				}
			},
			ExpectedStatus:  c.status,
			ExpectedContent: c.content,
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if got := countGuests(t, app, "users"); got != c.guests {
					t.Errorf("guests in users: %d, want %d", got, c.guests)
				}
				if c.status == 503 && res.Header.Get("Retry-After") == "" {
					t.Error("a 503 must carry Retry-After")
				}
			},
		}
		if c.body != nil {
			s.Body = c.body
		}
		if len(c.content) == 0 {
			s.ExpectedContent = []string{`"status"`}
			if c.status == 200 {
				s.ExpectedContent = []string{`"token":"`}
			}
		}
		s.Test(t)
	}
}

// scenarioHeaders lets a prepare func add request headers (the scenario's
// Headers map is read after BeforeTestFunc).
var scenarioHeaders sync.Map // *tests.TestApp → map[string]string

func headersOf(app *tests.TestApp) map[string]string {
	h, _ := scenarioHeaders.Load(app)
	return h.(map[string]string)
}

// signInWith makes one sign-in with solution through the Go API (the same
// path as the endpoint) and checks its status (200 = success).
func signInWith(t testing.TB, app *tests.TestApp, solution string, want int) {
	t.Helper()
	e, _ := newRequestEvent(app)
	e.Request.Header.Set(anonauth.ChallengeHeader, solution)
	_, err := anonauth.FromApp(app).SignIn(e, anonauth.SignInOptions{})
	got := 200
	if err != nil {
		got = router.ToApiError(err).Status
	}
	if got != want {
		t.Fatalf("sign-in: status %d, want %d (%v)", got, want, err)
	}
}

func TestChallengeEndpoint(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	scenarios := []tests.ApiScenario{
		{
			Name:           "pow: a signed ALTCHA challenge bound to the collection, not cacheable",
			Method:         http.MethodGet,
			URL:            "/api/collections/users/anonymous-challenge",
			TestAppFactory: powApp(powConfig(), clock),
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"algorithm":"SHA-256"`, `"maxnumber":1000`, `"challenge":"`, `"signature":"`,
				`expires=` + strconv.FormatInt(clock.now().Add(5*time.Minute).Unix(), 10),
				`issued=` + strconv.FormatInt(clock.now().Unix(), 10),
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
				col, _ := app.FindCollectionByNameOrId("users")
				// The challenge the endpoint returned solves and signs in.
				var c map[string]any
				if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(c["salt"].(string), "collection="+col.Id) {
					t.Errorf("salt %q does not name the collection", c["salt"])
				}
				c["maxnumber"] = int(c["maxnumber"].(float64))
				signInWith(t, app, solvePow(t, c), 200)
			},
		},
		{
			Name:            "pow: unknown collection → 404",
			Method:          http.MethodGet,
			URL:             "/api/collections/missing/anonymous-challenge",
			TestAppFactory:  powApp(powConfig(), clock),
			ExpectedStatus:  404,
			ExpectedContent: []string{`Missing collection`},
		},
		{
			Name:            "pow: collection without anonymous sign-in → 403",
			Method:          http.MethodGet,
			URL:             "/api/collections/clients/anonymous-challenge",
			TestAppFactory:  powApp(powConfig(), clock),
			ExpectedStatus:  403,
			ExpectedContent: []string{`not enabled`},
		},
		{
			Name:            "off → 404",
			Method:          http.MethodGet,
			URL:             "/api/collections/users/anonymous-challenge",
			TestAppFactory:  appFactory(anonauth.Config{}),
			ExpectedStatus:  404,
			ExpectedContent: []string{`bot protection is off`},
		},
		{
			Name:            "a captcha provider has no challenge endpoint → 404",
			Method:          http.MethodGet,
			URL:             "/api/collections/users/anonymous-challenge",
			TestAppFactory:  appFactory(captchaConfig("turnstile", "http://127.0.0.1:1/")),
			ExpectedStatus:  404,
			ExpectedContent: []string{`uses turnstile`, `cf-turnstile-response`},
		},
		{
			Name:            "the altcha widget script is served from the binary",
			Method:          http.MethodGet,
			URL:             "/api/anonymous-challenge/altcha.js",
			TestAppFactory:  appFactory(anonauth.Config{}),
			ExpectedStatus:  200,
			ExpectedContent: []string{`altcha-widget`},
			AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
					t.Errorf("Content-Type %q", ct)
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestChallengeConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  anonauth.ChallengeConfig
		want string
	}{
		{anonauth.ChallengeConfig{Provider: "captcha"}, `unknown Config.Challenge.Provider "captcha"`},
		{anonauth.ChallengeConfig{Provider: "turnstile"}, `Secret (the Turnstile secret key) is required`},
		{anonauth.ChallengeConfig{Provider: "hcaptcha", Secret: "s", VerifyURL: "ftp://x"}, `is not an http(s) URL`},
		{anonauth.ChallengeConfig{Provider: "recaptcha", Secret: "s", MinScore: 2}, `MinScore 2 is not between 0 and 1`},
	} {
		app, err := tests.NewTestApp()
		if err != nil {
			t.Fatal(err)
		}
		_, err = anonauth.Register(app, anonauth.Config{Challenge: c.cfg})
		app.Cleanup()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestReplayLedgerConcurrentSpend(t *testing.T) {
	t.Parallel()
	// Many requests racing with one solution: exactly one signs in.
	clock := newFakeClock()
	app := powApp(powConfig(), clock)(t)
	defer app.Cleanup()
	sol := solved(t, app, "users")

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := newRequestEvent(app)
			e.Request.Header.Set(anonauth.ChallengeHeader, sol)
			_, err := anonauth.FromApp(app).SignIn(e, anonauth.SignInOptions{})
			status := 200
			if err != nil {
				status = router.ToApiError(err).Status
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[400] != 7 {
		t.Fatalf("statuses %v: want exactly one 200 and seven 400", statuses)
	}
	if n := anonauth.SpentSolutions(anonauth.FromApp(app)); n != 1 {
		t.Fatalf("ledger holds %d entries, want 1", n)
	}
}

// The upgrade-by-code request sends a mail, so with bot protection on it
// needs a solved challenge as a new guest does.
func TestChallengeUpgradeByCode(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, powConfig())
	defer app.Cleanup()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.OTP.Enabled = true
	users.MFA.Enabled = false
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
	handler := serve(t, app)
	post := func(url, cookie, solution string, body any) (*http.Response, string) {
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if solution != "" {
			req.Header.Set(anonauth.ChallengeHeader, solution)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Result(), rec.Body.String()
	}

	res, body := post(signInURL, "", solved(t, app, "users"), nil)
	if res.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", res.StatusCode, body)
	}
	cookie := strings.SplitN(setCookie(res), ";", 2)[0]

	res, body = post(requestOTPURL, cookie, "", map[string]string{"email": "saved@example.org"})
	if res.StatusCode != 400 || !strings.Contains(body, "Challenge required") {
		t.Fatalf("code request without a solution: %d %s", res.StatusCode, body)
	}
	if n := app.TestMailer.TotalSend(); n != 0 {
		t.Fatalf("%d mails sent without a solution", n)
	}

	res, body = post(requestOTPURL, cookie, solved(t, app, "users"), map[string]string{"email": "saved@example.org"})
	if res.StatusCode != 200 || !strings.Contains(body, `"otpId"`) {
		t.Fatalf("code request with a solution: %d %s", res.StatusCode, body)
	}
}
