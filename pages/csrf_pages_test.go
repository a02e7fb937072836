package pages_test

import (
	"github.com/pocketbase/dbx"
	"net/http"
	"strings"
	"testing"
)

// A cross-site form post to a page is refused before the page runs, with or
// without the session cookie (a SameSite=Lax cookie is not sent on it, yet
// the page could still sign the browser in as a new guest).
func TestPagesRefuseCrossSitePosts(t *testing.T) {
	s := newServer(t, testOptions{})

	guests := countGuestsIn(t, s, "users")

	for _, h := range [][]string{
		{"Origin: https://evil.example"},
		{"Sec-Fetch-Site: cross-site"},
		{"Sec-Fetch-Site: same-site"},
	} {
		res := s.do("POST", "/guest", "mode=anonymous", h...)
		mustStatus(t, res, http.StatusForbidden)
		mustContain(t, res, `Cross-site request rejected`)
		if res.authCookie() != "" {
			t.Fatalf("%v: a refused post must not sign in", h)
		}
	}
	if got := countGuestsIn(t, s, "users"); got != guests {
		t.Fatalf("refused posts created guests: %d -> %d", guests, got)
	}

	// Same-origin posts, and non-browser clients (no Origin, no
	// Sec-Fetch-Site), work; safe methods from anywhere work.
	mustStatus(t, s.do("POST", "/guest", "mode=anonymous", "Sec-Fetch-Site: same-origin"), http.StatusFound)
	mustStatus(t, s.do("POST", "/guest", "mode=anonymous"), http.StatusFound)
	mustStatus(t, s.do("GET", "/guest", "", "Sec-Fetch-Site: cross-site"), http.StatusOK)
}

// deleteAnonymous() in a page deletes the page's guest, clears the cookie and
// the rest of the render sees no session; a full account gets a catchable 400.
func TestPageDeleteAnonymous(t *testing.T) {
	s := newServer(t, testOptions{})

	signIn := s.do("POST", "/guest", "mode=anonymous")
	cookie := signIn.authCookie()
	if cookie == "" {
		t.Fatal("no guest session")
	}
	before := countGuestsIn(t, s, "users")

	res := s.do("POST", "/forget", "x=1", "Cookie: "+cookie)
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, "auth: none")
	mustNotContain(t, res, `class="error"`)
	if got := countGuestsIn(t, s, "users"); got != before-1 {
		t.Fatalf("guests %d -> %d, want one deleted", before, got)
	}
	cleared := false
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == "pb_auth" && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Fatalf("the cookie must be cleared: %v", res.header.Values("Set-Cookie"))
	}

	// No session at all: a clear, catchable error.
	res = s.do("POST", "/forget", "x=1")
	mustStatus(t, res, http.StatusOK)
	if !strings.Contains(res.body, `class="error">401`) {
		t.Fatalf("expected a 401 error shown on the page:\n%s", res.body)
	}
}

func countGuestsIn(t testing.TB, s *server, collection string) int {
	t.Helper()
	n, err := s.app.CountRecords(collection, dbx.HashExp{"isAnonymous": true})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
