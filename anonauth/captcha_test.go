package anonauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// fakeSiteverify is a local stand-in for the providers' siteverify
// endpoints: it records what it was sent and answers what the test says.
type fakeSiteverify struct {
	*httptest.Server
	mu       sync.Mutex
	requests []map[string]string // form of each request
	answer   func(w http.ResponseWriter, form map[string]string)
	release  chan struct{} // closed at the end of the test, unblocks hanging answers
}

func newFakeSiteverify(t *testing.T, answer func(w http.ResponseWriter, form map[string]string)) *fakeSiteverify {
	f := &fakeSiteverify{answer: answer, release: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form POST", http.StatusBadRequest)
			return
		}
		r.ParseForm()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		f.mu.Lock()
		f.requests = append(f.requests, form)
		f.mu.Unlock()
		f.answer(w, form)
	}))
	t.Cleanup(func() {
		close(f.release)
		f.Close()
	})
	return f
}

func (f *fakeSiteverify) seen() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]string(nil), f.requests...)
}

// jsonAnswer answers with v as JSON.
func jsonAnswer(v any) func(http.ResponseWriter, map[string]string) {
	return func(w http.ResponseWriter, _ map[string]string) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
}

func captchaConfig(provider, verifyURL string) anonauth.Config {
	return anonauth.Config{Challenge: anonauth.ChallengeConfig{
		Provider:  provider,
		Secret:    "server-secret",
		SiteKey:   "public-site-key",
		VerifyURL: verifyURL,
		Timeout:   200 * time.Millisecond,
	}}
}

func TestCaptchaProviders(t *testing.T) {
	t.Parallel()

	ok := jsonAnswer(map[string]any{"success": true})

	type tc struct {
		name     string
		provider string
		field    string // the field the token is posted in ("" = header)
		answer   func(http.ResponseWriter, map[string]string)
		tweak    func(*anonauth.Config)
		status   int
		content  []string
		guests   int
		calls    int // siteverify requests expected
	}
	cases := []tc{
		{name: "turnstile: token in cf-turnstile-response accepted", provider: "turnstile", field: "cf-turnstile-response", answer: ok, status: 200, guests: 1, calls: 1},
		{name: "hcaptcha: token in h-captcha-response accepted", provider: "hcaptcha", field: "h-captcha-response", answer: ok, status: 200, guests: 1, calls: 1},
		{name: "recaptcha v2: token in g-recaptcha-response accepted", provider: "recaptcha", field: "g-recaptcha-response", answer: ok, status: 200, guests: 1, calls: 1},
		{name: "token in the X-Anonymous-Challenge header accepted", provider: "turnstile", answer: ok, status: 200, guests: 1, calls: 1},
		{
			name: "no token → 400 challenge required, provider and site key in data", provider: "turnstile", answer: ok,
			status: 400, content: []string{`Challenge required`, `"provider":"turnstile"`, `"siteKey":"public-site-key"`, `"field":"cf-turnstile-response"`},
		},
		{
			name: "provider refuses the token → 400 with its error codes", provider: "hcaptcha", field: "h-captcha-response",
			answer: jsonAnswer(map[string]any{"success": false, "error-codes": []string{"invalid-input-response"}}),
			status: 400, content: []string{`The hCaptcha check failed (invalid-input-response)`}, calls: 1,
		},
		{
			name: "recaptcha v3: score under the threshold → 400", provider: "recaptcha", field: "g-recaptcha-response",
			answer: jsonAnswer(map[string]any{"success": true, "score": 0.3}),
			tweak:  func(c *anonauth.Config) { c.Challenge.MinScore = 0.5 },
			status: 400, content: []string{`score 0.3 is below the required 0.5`}, calls: 1,
		},
		{
			name: "recaptcha v3: score at the threshold → guest", provider: "recaptcha", field: "g-recaptcha-response",
			answer: jsonAnswer(map[string]any{"success": true, "score": 0.5}),
			tweak:  func(c *anonauth.Config) { c.Challenge.MinScore = 0.5 },
			status: 200, guests: 1, calls: 1,
		},
		{
			name: "recaptcha v3 threshold with a v2 answer (no score) → 400", provider: "recaptcha", field: "g-recaptcha-response",
			answer: ok,
			tweak:  func(c *anonauth.Config) { c.Challenge.MinScore = 0.5 },
			status: 400, content: []string{`has no score`}, calls: 1,
		},
		{
			name: "provider answers HTTP 500 → fail closed: 503 with Retry-After", provider: "turnstile", field: "cf-turnstile-response",
			answer: func(w http.ResponseWriter, _ map[string]string) { http.Error(w, "down", 500) },
			status: 503, content: []string{`captcha service could not be reached`}, calls: 1,
		},
		{
			name: "provider answers garbage → fail closed: 503", provider: "hcaptcha", field: "h-captcha-response",
			answer: func(w http.ResponseWriter, _ map[string]string) { w.Write([]byte("<html>")) },
			status: 503, content: []string{`captcha service could not be reached`}, calls: 1,
		},
		{
			name: "provider hangs past the timeout → fail closed: 503", provider: "turnstile", field: "cf-turnstile-response",
			status: 503, content: []string{`captcha service could not be reached`}, calls: 1,
		},
		{
			name: "provider down with FailOpen → guest", provider: "turnstile", field: "cf-turnstile-response",
			answer: func(w http.ResponseWriter, _ map[string]string) { http.Error(w, "down", 502) },
			tweak:  func(c *anonauth.Config) { c.Challenge.FailOpen = true },
			status: 200, guests: 1, calls: 1,
		},
		{
			name: "FailOpen never lets a refused token through", provider: "turnstile", field: "cf-turnstile-response",
			answer: jsonAnswer(map[string]any{"success": false, "error-codes": []string{"timeout-or-duplicate"}}),
			tweak:  func(c *anonauth.Config) { c.Challenge.FailOpen = true },
			status: 400, content: []string{`timeout-or-duplicate`}, calls: 1,
		},
		{
			name: "rate limited before the provider is asked", provider: "turnstile", field: "cf-turnstile-response", answer: ok,
			tweak:  func(c *anonauth.Config) { c.RateLimit = -1 }, // replaced below: limit 1, used up in BeforeTestFunc
			status: 429, content: []string{`Too many anonymous sign-ins`}, guests: 1, calls: 1,
		},
	}

	for _, c := range cases {
		var fake *fakeSiteverify
		if c.answer == nil { // hang until the test ends
			fake = newFakeSiteverify(t, nil)
			fake.answer = func(w http.ResponseWriter, _ map[string]string) { <-fake.release }
		} else {
			fake = newFakeSiteverify(t, c.answer)
		}
		cfg := captchaConfig(c.provider, fake.URL)
		if c.tweak != nil {
			c.tweak(&cfg)
		}
		rateLimited := strings.HasPrefix(c.name, "rate limited")
		if rateLimited {
			cfg.RateLimit = 1
		}

		s := tests.ApiScenario{
			Name:           c.name,
			Method:         http.MethodPost,
			URL:            signInURL,
			TestAppFactory: appFactory(cfg),
			ExpectedStatus: c.status,
			ExpectedContent: func() []string {
				if len(c.content) > 0 {
					return c.content
				}
				return []string{`"token":"`}
			}(),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				if rateLimited {
					signInWith(t, app, "the-token", 200)
				}
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if got := countGuests(t, app, "users"); got != c.guests {
					t.Errorf("guests: %d, want %d", got, c.guests)
				}
				seen := fake.seen()
				if len(seen) != c.calls {
					t.Fatalf("siteverify calls: %d, want %d", len(seen), c.calls)
				}
				if c.calls > 0 {
					last := seen[len(seen)-1]
					if last["secret"] != "server-secret" || last["response"] != "the-token" || last["remoteip"] == "" {
						t.Errorf("siteverify got %v; want the secret, the token and the client IP", last)
					}
				}
				if c.status == 503 && res.Header.Get("Retry-After") == "" {
					t.Error("a 503 must carry Retry-After")
				}
			},
		}
		switch c.field {
		case "":
			if !strings.HasPrefix(c.name, "no token") {
				s.Headers = map[string]string{anonauth.ChallengeHeader: "the-token"}
			}
		default:
			s.Headers = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			s.Body = strings.NewReader(c.field + "=the-token")
		}
		s.Test(t)
	}
}
