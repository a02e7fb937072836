package pages_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestOAuth2StateFollowsTheTrustedProxyRule: the pb_oauth2 cookie's Secure
// flag and the redirect URL's scheme follow the session cookie's rule
// (anonauth.IsHTTPS): X-Forwarded-Proto counts only once a trusted proxy is
// configured. Before, a client could send the header itself and get an
// https:// redirect URL (and the state cookie the opposite treatment to
// pb_auth behind a real proxy).
func TestOAuth2StateFollowsTheTrustedProxyRule(t *testing.T) {
	provider := newFakeOAuth2(t, "proxy@example.com")
	s := newServer(t, siteOptions(provider))

	start := func() (redirectURI string, secure bool) {
		t.Helper()
		res := s.do("POST", "/login", "mode=oauth2&provider=gitea", "X-Forwarded-Proto: https")
		mustStatus(t, res, http.StatusFound)
		loc, err := url.Parse(res.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range (&http.Response{Header: res.header}).Cookies() {
			if c.Name == "pb_oauth2" {
				found, secure = true, c.Secure
			}
		}
		if !found {
			t.Fatal("no pb_oauth2 cookie")
		}
		return loc.Query().Get("redirect_uri"), secure
	}

	if uri, secure := start(); uri != "http://example.com/auth/oauth2" || secure {
		t.Fatalf("no trusted proxy: the client's X-Forwarded-Proto must not count, got %q secure=%v", uri, secure)
	}

	s.app.Settings().TrustedProxy.Headers = []string{"X-Forwarded-For"}
	if uri, secure := start(); uri != "https://example.com/auth/oauth2" || !secure {
		t.Fatalf("behind a trusted proxy saying https: got %q secure=%v", uri, secure)
	}
}
