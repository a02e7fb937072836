package pages_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Issue 18 item 1, page path: registerWithPassword() from a guest's page
// upgrades the guest in place and rotates its token key, so the guest token
// stops working; the page's answer carries the new cookie.
func TestRegisterWithPasswordKillsTheGuestToken(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "register.ejs"), []byte(`<script server>
  let token = ''
  if (request.method === 'POST') {
    const form = body()
    token = registerWithPassword(String(form.email), String(form.password)).token
  }
</script>
<p>id=<%= request.auth ? request.auth.id : '' %> anonymous=<%= request.auth ? request.auth.get('isAnonymous') : '' %></p>
<pre id="token"><%= token %></pre>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, testOptions{templatesDir: dir})

	signIn := s.do("POST", "/api/collections/users/auth-anonymously", "")
	mustStatus(t, signIn, http.StatusOK)
	cookie := signIn.authCookie()
	guestToken, err := anonauth.DecodeAuthCookie(cookie[len(anonauth.CookieName)+1:])
	if err != nil {
		t.Fatal(err)
	}
	guest, err := s.app.FindAuthRecordByToken(guestToken)
	if err != nil {
		t.Fatal(err)
	}

	res := s.do("POST", "/register", "email=page-up%40example.com&password=s3cret-pass", "Cookie: "+cookie)
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, "id="+guest.Id+" anonymous=false")
	m := regexp.MustCompile(`<pre id="token">([^<]+)</pre>`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no token on the page:\n%s", res.body)
	}
	newCookie := res.authCookie()
	if newCookie == "" || newCookie == cookie {
		t.Fatalf("the page must rewrite the pb_auth cookie, got %q", newCookie)
	}

	refresh := "/api/collections/users/auth-refresh"
	mustStatus(t, s.do("POST", refresh, "", "Authorization: "+guestToken), http.StatusUnauthorized)
	mustStatus(t, s.do("POST", refresh, "", "Cookie: "+cookie), http.StatusUnauthorized)
	mustStatus(t, s.do("POST", refresh, "", "Authorization: "+m[1]), http.StatusOK)
	mustStatus(t, s.do("POST", refresh, "", "Cookie: "+newCookie), http.StatusOK)
}
