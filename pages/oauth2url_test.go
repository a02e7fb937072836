package pages_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/auth"
	"github.com/pocketbase/pocketbase/tools/security"
)

// requestOAuth2Login builds the auth URL as PocketBase's auth-methods does:
// an S256 PKCE challenge of the verifier it keeps in the pb_oauth2 cookie,
// and Apple's response_mode=form_post (with a state cookie that survives
// Apple's cross-site POST back).
func TestRequestOAuth2LoginURL(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "start.ejs"), []byte(`<script server>
  const authURL = requestOAuth2Login(params.provider, { autoRedirect: false, redirectPath: '/auth/done' })
</script>
<a id="go" href="<%= authURL %>">go</a>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, testOptions{templatesDir: dir, setup: func(t testing.TB, app *tests.TestApp) {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			t.Fatal(err)
		}
		users.OAuth2.Enabled = true
		users.OAuth2.Providers = []core.OAuth2ProviderConfig{
			{Name: auth.NameApple, ClientId: "apple-client", ClientSecret: "secret"},
			{Name: auth.NameGoogle, ClientId: "google-client", ClientSecret: "secret"},
		}
		if err := app.Save(users); err != nil {
			t.Fatal(err)
		}
	}})

	start := func(provider string) (url.Values, map[string]string, *http.Cookie) {
		t.Helper()
		res := s.do("GET", "/start?provider="+provider, "")
		mustStatus(t, res, http.StatusOK)
		m := regexp.MustCompile(`href="([^"]+)"`).FindStringSubmatch(res.body)
		if m == nil {
			t.Fatalf("no auth URL:\n%s", res.body)
		}
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		var cookie *http.Cookie
		for _, c := range (&http.Response{Header: res.header}).Cookies() {
			if c.Name == "pb_oauth2" {
				cookie = c
			}
		}
		if cookie == nil {
			t.Fatal("no pb_oauth2 state cookie")
		}
		raw, err := url.PathUnescape(cookie.Value)
		if err != nil {
			t.Fatal(err)
		}
		state := map[string]string{}
		if err := json.Unmarshal([]byte(raw), &state); err != nil {
			t.Fatal(err)
		}
		return u.Query(), state, cookie
	}

	q, state, cookie := start(auth.NameApple)
	if q.Get("response_mode") != "form_post" {
		t.Fatalf("Apple needs response_mode=form_post: %v", q)
	}
	if state["codeVerifier"] == "" || q.Get("code_challenge") != security.S256Challenge(state["codeVerifier"]) || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("the challenge is not S256 of the kept verifier: %v / %v", q, state)
	}
	if q.Get("state") != state["state"] || q.Get("client_id") != "apple-client" || q.Get("redirect_uri") != "http://example.com/auth/done" {
		t.Fatalf("unexpected auth URL params: %v (state %v)", q, state)
	}
	if cookie.SameSite != http.SameSiteNoneMode || !cookie.Secure || !cookie.HttpOnly {
		t.Fatalf("Apple's state cookie must survive a cross-site POST: %+v", cookie)
	}

	q, state, cookie = start(auth.NameGoogle)
	if q.Has("response_mode") {
		t.Fatalf("only Apple gets response_mode: %v", q)
	}
	if q.Get("code_challenge") != security.S256Challenge(state["codeVerifier"]) {
		t.Fatalf("the challenge is not S256 of the kept verifier: %v / %v", q, state)
	}
	if cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("a GET redirect back needs only a Lax state cookie: %+v", cookie)
	}
}
