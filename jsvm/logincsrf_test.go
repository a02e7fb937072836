package jsvm_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"
)

// TestHooksLoginCSRF: pb_hooks routes that sign in or out through the JS
// globals (the shipped pb_hooks/guest_api.pb.js) refuse a cross-site browser
// request, with or without a cookie: 403 and no Set-Cookie, so another site
// cannot replace or end the visitor's session. Same-origin and header-less
// clients pass.
func TestHooksLoginCSRF(t *testing.T) {
	s := newServer(t, testOptions{})

	for _, crossSite := range []string{"Origin: https://evil.example", "Sec-Fetch-Site: cross-site"} {
		for _, route := range []string{"/api/guest/start", "/api/guest/sign-out"} {
			res := s.do("POST", route, `{}`, "Content-Type: application/json", crossSite)
			mustStatus(t, res, http.StatusForbidden)
			mustContain(t, res, "Cross-site request rejected")
			if c := res.header.Values("Set-Cookie"); len(c) > 0 {
				t.Fatalf("%s from another site (%s) set cookies: %v", route, crossSite, c)
			}
		}
	}
	if n := s.guestCount(t); n != 0 {
		t.Fatalf("refused sign-ins created %d guests", n)
	}

	for _, allowed := range [][]string{nil, {"Sec-Fetch-Site: same-origin"}, {"Origin: http://example.com"}} {
		headers := append([]string{"Content-Type: application/json"}, allowed...)
		res := s.do("POST", "/api/guest/start", `{}`, headers...)
		mustStatus(t, res, http.StatusOK)
		if res.authCookie() == "" {
			t.Fatalf("sign-in with %v: no session cookie", allowed)
		}
		res = s.do("POST", "/api/guest/sign-out", ``, append(allowed, "Cookie: "+res.authCookie())...)
		mustStatus(t, res, http.StatusOK)
		if c := res.header.Get("Set-Cookie"); c == "" {
			t.Fatalf("sign-out with %v: the cookie was not cleared", allowed)
		}
	}
}

// guestCount counts the anonymous users.
func (s *server) guestCount(t testing.TB) int {
	t.Helper()
	n, err := s.app.CountRecords("users", dbx.HashExp{"isAnonymous": true})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
