package pages_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// The sample PocketPages site (examples/pocketpages), through the real
// router: layouts, middlewares, loaders, asset() and the auth helpers.

const siteDir = "../examples/pocketpages"

// fakeOAuth2 is a Gitea-compatible OAuth2 provider: code "good-code" gets a
// token, the token gets the user.
type fakeOAuth2 struct {
	*httptest.Server
	email    string
	verifier atomic.Value // the code_verifier of the last token request
}

func newFakeOAuth2(t testing.TB, email string) *fakeOAuth2 {
	f := &fakeOAuth2{email: email}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			r.ParseForm()
			f.verifier.Store(r.Form.Get("code_verifier"))
			if r.Form.Get("code") != "good-code" {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"fake-access","token_type":"bearer","expires_in":3600}`))
		case "/user":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"id": 4242, "login": "fakeuser", "full_name": "Fake User", "active": true, "avatar_url": ""})
		case "/user/emails":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode([]map[string]any{{"email": f.email, "verified": true, "primary": true}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// siteOptions serve the sample site with password, OTP and (fake) OAuth2
// sign-in enabled on users.
func siteOptions(provider *fakeOAuth2) testOptions {
	return testOptions{
		templatesDir: siteDir,
		dev:          true,
		setup: func(t testing.TB, app *tests.TestApp) {
			users, err := app.FindCollectionByNameOrId("users")
			if err != nil {
				t.Fatal(err)
			}
			users.OTP.Enabled = true
			users.MFA.Enabled = false
			users.PasswordAuth.Enabled = true
			if provider != nil {
				users.OAuth2.Enabled = true
				users.OAuth2.Providers = []core.OAuth2ProviderConfig{{
					Name:         "gitea",
					ClientId:     "client",
					ClientSecret: "secret",
					AuthURL:      provider.URL + "/authorize",
					TokenURL:     provider.URL + "/token",
					UserInfoURL:  provider.URL + "/user",
				}}
			}
			if err := app.Save(users); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func TestSiteLayoutsAndSlots(t *testing.T) {
	s := newServer(t, siteOptions(nil))

	home := s.do("GET", "/", "")
	mustStatus(t, home, 200)
	mustContain(t, home, "<title>Home</title>", `<main class="root-layout">`, "<h1>Welcome</h1>", "not signed in")
	mustNotContain(t, home, "slot:", "<!--")

	cookie := s.do("POST", "/guest", "x=1").authCookie()
	if cookie == "" {
		t.Fatal("no guest session")
	}
	acc := s.do("GET", "/account", "", "Cookie: "+cookie)
	mustStatus(t, acc, 200)
	// innermost layout first, then the root one around it
	re := regexp.MustCompile(`(?s)<title>My account · Account</title>.*<main class="root-layout">\s*<section class="account-layout">\s*<h2>Account \w+</h2>.*<p class="kind">guest account</p>.*</section>\s*</main>`)
	if !re.MatchString(acc.body) {
		t.Fatalf("layouts not nested as expected:\n%s", acc.body)
	}
	mustNotContain(t, acc, "slot:")

	// JSON output skips the layouts
	status := s.do("GET", "/status", "", "Cookie: "+cookie)
	if ct := status.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q:\n%s", ct, status.body)
	}
	mustNotContain(t, status, "<html", "root-layout")
	mustContain(t, status, `"guest":true`)
}

func TestSiteMiddlewareAndLoaders(t *testing.T) {
	s := newServer(t, siteOptions(nil))

	// account middleware answers without next(): no page, no loader
	res := s.do("GET", "/account", "")
	mustStatus(t, res, http.StatusFound)
	if loc := res.header.Get("Location"); loc != "/login" {
		t.Fatalf("Location %q", loc)
	}

	cookie := s.do("POST", "/guest", "x=1").authCookie()
	get := s.do("GET", "/account", "", "Cookie: "+cookie)
	mustContain(t, get, `<p class="trail">root&gt;account&gt;load</p>`)

	post := s.do("POST", "/account", "note=hello", "Cookie: "+cookie)
	mustContain(t, post, `<p class="trail">root&gt;account&gt;load&gt;post</p>`, `<p class="saved">hello</p>`)
}

func TestSiteAsset(t *testing.T) {
	s := newServer(t, siteOptions(nil))
	home := s.do("GET", "/", "")
	m := regexp.MustCompile(`href="(/static/site\.[0-9a-f]{12}\.css)"`).FindStringSubmatch(home.body)
	if m == nil {
		t.Fatalf("no fingerprinted stylesheet in:\n%s", home.body)
	}
	css := s.do("GET", m[1], "")
	mustStatus(t, css, 200)
	mustContain(t, css, "font-family")
	if cc := css.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Fatalf("Cache-Control %q", cc)
	}
	stale := s.do("GET", "/static/site.000000000000.css", "")
	mustStatus(t, stale, 200)
	if cc := stale.header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("stale fingerprint Cache-Control %q", cc)
	}
	plain := s.do("GET", "/static/site.css", "")
	if cc := plain.header.Get("Cache-Control"); cc != "" {
		t.Fatalf("plain URL Cache-Control %q", cc)
	}
}

func TestSitePasswordHelpers(t *testing.T) {
	s := newServer(t, siteOptions(nil))

	reg := s.do("POST", "/register", "email=new%40example.com&password=secret-pass-1")
	mustStatus(t, reg, http.StatusFound)
	cookie := reg.authCookie()
	acc := s.do("GET", "/account", "", "Cookie: "+cookie)
	mustContain(t, acc, "full account")

	bad := s.do("POST", "/register", "email=new%40example.com&password=secret-pass-1")
	mustStatus(t, bad, 200)
	mustContain(t, bad, `<p class="error">`)

	wrong := s.do("POST", "/login", "mode=password&email=new%40example.com&password=nope")
	mustStatus(t, wrong, 200)
	mustContain(t, wrong, `data-status="400">Failed to authenticate.</p>`)
	if wrong.authCookie() != "" {
		t.Fatal("no cookie for a wrong password")
	}

	ok := s.do("POST", "/login", "mode=password&email=new%40example.com&password=secret-pass-1")
	mustStatus(t, ok, http.StatusFound)
	if ok.authCookie() == "" {
		t.Fatal("expected the pb_auth cookie")
	}
	mustContain(t, s.do("GET", "/", "", "Cookie: "+ok.authCookie()), "signed in as new@example.com")

	out := s.do("GET", "/logout", "", "Cookie: "+ok.authCookie())
	mustStatus(t, out, http.StatusFound)
	if !strings.Contains(strings.Join(out.header.Values("Set-Cookie"), "\n"), "pb_auth=;") {
		t.Fatalf("sign-out must expire the cookie: %v", out.header.Values("Set-Cookie"))
	}
}

// A guest who registers keeps its record (upgraded in place); a guest who
// signs in to an existing account is merged into it (anonauth's link).
func TestSiteGuestConversion(t *testing.T) {
	s := newServer(t, siteOptions(nil))

	guestCookie := s.do("POST", "/guest", "x=1").authCookie()
	guest := s.do("GET", "/status", "", "Cookie: "+guestCookie)
	var st struct{ User struct{ ID string } }
	json.Unmarshal([]byte(guest.body), &st)
	if st.User.ID == "" {
		t.Fatalf("no guest id: %s", guest.body)
	}

	reg := s.do("POST", "/register", "email=converted%40example.com&password=secret-pass-1", "Cookie: "+guestCookie)
	mustStatus(t, reg, http.StatusFound)
	rec, err := s.app.FindRecordById("users", st.User.ID)
	if err != nil {
		t.Fatalf("the guest record must survive registration: %v", err)
	}
	if rec.GetBool("isAnonymous") || rec.Email() != "converted@example.com" {
		t.Fatalf("not upgraded in place: anonymous=%v email=%s", rec.GetBool("isAnonymous"), rec.Email())
	}

	// another guest signs in to an existing account (PocketBase test data)
	guest2 := s.do("POST", "/guest", "x=1").authCookie()
	var st2 struct{ User struct{ ID string } }
	json.Unmarshal([]byte(s.do("GET", "/status", "", "Cookie: "+guest2).body), &st2)
	login := s.do("POST", "/login", "mode=password&email=test%40example.com&password=1234567890", "Cookie: "+guest2)
	mustStatus(t, login, http.StatusFound)
	mustContain(t, s.do("GET", "/", "", "Cookie: "+login.authCookie()), "signed in as test@example.com")
	if _, err := s.app.FindRecordById("users", st2.User.ID); err == nil {
		t.Fatal("the guest must be merged into the account (and deleted)")
	}
}

func TestSiteOTP(t *testing.T) {
	s := newServer(t, siteOptions(nil))

	req := s.do("POST", "/login", "mode=otp-request&email=test%40example.com")
	mustStatus(t, req, 200)
	m := regexp.MustCompile(`data-otp-id="(\w+)"`).FindStringSubmatch(req.body)
	if m == nil {
		t.Fatalf("no otpId:\n%s", req.body)
	}
	otpId := m[1]

	var code string
	deadline := time.Now().Add(3 * time.Second)
	for code == "" && time.Now().Before(deadline) {
		if msg := s.app.TestMailer.LastMessage(); msg.HTML != "" {
			code = regexp.MustCompile(`\b(\d{6,8})\b`).FindString(msg.HTML)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code == "" {
		t.Fatal("no OTP email")
	}

	bad := s.do("POST", "/login", "mode=otp&otpId="+otpId+"&password=000")
	mustContain(t, bad, `data-status="400">Invalid or expired OTP.</p>`)

	ok := s.do("POST", "/login", "mode=otp&otpId="+otpId+"&password="+code)
	mustStatus(t, ok, http.StatusFound)
	mustContain(t, s.do("GET", "/", "", "Cookie: "+ok.authCookie()), "signed in as test@example.com")

	// unknown email: a dummy otpId, no error (no account enumeration)
	unknown := s.do("POST", "/login", "mode=otp-request&email=nobody%40example.com")
	mustContain(t, unknown, `data-otp-id="`)
	mustNotContain(t, unknown, `class="error"`)
}

func TestSiteOAuth2RoundTrip(t *testing.T) {
	provider := newFakeOAuth2(t, "oauth@example.com")
	s := newServer(t, siteOptions(provider))

	start := s.do("POST", "/login", "mode=oauth2&provider=gitea")
	mustStatus(t, start, http.StatusFound)
	loc, err := url.Parse(start.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), provider.URL+"/authorize") {
		t.Fatalf("expected a redirect to the provider, got %q", start.header.Get("Location"))
	}
	state := loc.Query().Get("state")
	if state == "" || loc.Query().Get("code_challenge") == "" || loc.Query().Get("redirect_uri") != "http://example.com/auth/oauth2" {
		t.Fatalf("bad authorize URL %s", loc)
	}
	var stateCookie string
	for _, c := range (&http.Response{Header: start.header}).Cookies() {
		if c.Name == "pb_oauth2" {
			stateCookie = c.Name + "=" + c.Value
			if !c.HttpOnly {
				t.Fatal("the state cookie must be HttpOnly")
			}
		}
	}
	if stateCookie == "" {
		t.Fatal("no state cookie")
	}

	// a forged state is refused, nothing is exchanged
	forged := s.do("GET", "/auth/oauth2?state=forged&code=good-code", "", "Cookie: "+stateCookie)
	mustStatus(t, forged, 200)
	mustContain(t, forged, `data-status="400">OAuth2 state mismatch: start the login again.</p>`)
	if forged.authCookie() != "" {
		t.Fatal("no session on a state mismatch")
	}
	// no state cookie at all
	mustContain(t, s.do("GET", "/auth/oauth2?state="+state+"&code=good-code", ""), "OAuth2 state mismatch")

	// a guest finishes the login: converted, cookie set
	guestCookie := s.do("POST", "/guest", "x=1").authCookie()
	var gs struct{ User struct{ ID string } }
	json.Unmarshal([]byte(s.do("GET", "/status", "", "Cookie: "+guestCookie).body), &gs)
	back := s.do("GET", "/auth/oauth2?state="+url.QueryEscape(state)+"&code=good-code", "", "Cookie: "+stateCookie+"; "+guestCookie)
	mustStatus(t, back, http.StatusFound)
	if back.header.Get("Location") != "/account" || back.authCookie() == "" {
		t.Fatalf("expected a signed-in redirect, got %d %v\n%s", back.status, back.header, back.body)
	}
	if v, _ := provider.verifier.Load().(string); len(v) < 43 {
		t.Fatalf("PKCE verifier not sent: %q", v)
	}
	mustContain(t, s.do("GET", "/", "", "Cookie: "+back.authCookie()), "signed in as oauth@example.com")
	account, err := s.app.FindAuthRecordByEmail("users", "oauth@example.com")
	if err != nil {
		t.Fatalf("no account for the OAuth2 user: %v", err)
	}
	// anonauth's conversion ran: the guest itself became the account
	if account.Id != gs.User.ID || account.GetBool("isAnonymous") {
		t.Fatalf("guest %s not converted in place: account %s anonymous=%v", gs.User.ID, account.Id, account.GetBool("isAnonymous"))
	}

	// a bad code is a catchable error
	start2 := s.do("POST", "/login", "mode=oauth2&provider=gitea")
	loc2, _ := url.Parse(start2.header.Get("Location"))
	var cookie2 string
	for _, c := range (&http.Response{Header: start2.header}).Cookies() {
		if c.Name == "pb_oauth2" {
			cookie2 = c.Name + "=" + c.Value
		}
	}
	badCode := s.do("GET", "/auth/oauth2?state="+url.QueryEscape(loc2.Query().Get("state"))+"&code=bad", "", "Cookie: "+cookie2)
	mustContain(t, badCode, `data-status="400"`)
}

func TestSiteNonHTMLSkipsLayouts(t *testing.T) {
	s := newServer(t, siteOptions(nil))
	res := s.do("GET", "/humans", "")
	mustStatus(t, res, 200)
	if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(res.body, "/* TEAM */") {
		t.Fatalf("layout applied to a text response:\n%s", res.body)
	}
}

// signIn(authData): a token obtained elsewhere (here the pb_hooks example
// route) becomes the page's session; a bad token is a clear 401.
func TestSiteSignInWithAuthData(t *testing.T) {
	s := newServer(t, siteOptions(nil))
	start := s.do("POST", "/api/guest/start", `{}`, "Content-Type: application/json")
	var auth struct{ Token string }
	if err := json.Unmarshal([]byte(start.body), &auth); err != nil || auth.Token == "" {
		t.Fatalf("no token: %s", start.body)
	}

	res := s.do("POST", "/handoff", "token="+url.QueryEscape(auth.Token))
	mustStatus(t, res, http.StatusFound)
	if res.authCookie() == "" {
		t.Fatal("expected the pb_auth cookie")
	}
	mustContain(t, s.do("GET", "/account", "", "Cookie: "+res.authCookie()), "guest account")

	bad := s.do("POST", "/handoff", "token=forged.token.value")
	mustStatus(t, bad, 200)
	mustContain(t, bad, `data-status="401">Invalid or expired auth token.</p>`)
}
