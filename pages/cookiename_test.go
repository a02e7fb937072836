package pages_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPagesUseTheConfiguredCookieName: with Config.CookieName
// "__Host-pb_auth", a page's signInAnonymously() sets that cookie (Secure,
// Path=/, no Domain), the next request is signed in by it, a plain pb_auth
// cookie (one a sibling subdomain could plant) is no session, and signOut()
// expires the configured cookie.
func TestPagesUseTheConfiguredCookieName(t *testing.T) {
	const name = "__Host-pb_auth"
	s := newServer(t, testOptions{cookieName: name})

	post := s.do("POST", "/guest", "mode=anonymous")
	mustStatus(t, post, http.StatusFound)
	var session *http.Cookie
	for _, c := range (&http.Response{Header: post.header}).Cookies() {
		switch c.Name {
		case name:
			session = c
		case "pb_auth":
			t.Fatalf("a pb_auth cookie was set next to %s", name)
		}
	}
	if session == nil || !session.Secure || session.Path != "/" || session.Domain != "" || !session.HttpOnly {
		t.Fatalf("want a Secure, HttpOnly, Path=/, host-only %s cookie, got %v", name, post.header.Values("Set-Cookie"))
	}

	home := s.do("GET", "/", "", "Cookie: "+name+"="+session.Value)
	mustContain(t, home, "signed in: ", "anonymous=true")

	planted := s.do("GET", "/", "", "Cookie: pb_auth="+session.Value)
	mustContain(t, planted, "not signed in")

	out := s.do("GET", "/signout", "", "Cookie: "+name+"="+session.Value)
	mustContain(t, out, "was=in now=out")
	if c := strings.Join(out.header.Values("Set-Cookie"), "\n"); !strings.Contains(c, name+"=;") || !strings.Contains(c, "Max-Age=0") {
		t.Fatalf("signOut() must expire %s, got %q", name, c)
	}
}
