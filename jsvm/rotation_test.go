package jsvm_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Issue 18 item 1, JS path: upgradeAnonymous(e, ...) in a pb_hooks route
// rotates the token key, so the guest token stops working, and the answer
// carries the new token and cookie.
func TestHooksUpgradeAnonymousKillsTheGuestToken(t *testing.T) {
	s := newServer(t, testOptions{})

	signIn := s.do("POST", "/api/collections/users/auth-anonymously", "")
	mustStatus(t, signIn, http.StatusOK)
	var guest struct {
		Token  string         `json:"token"`
		Record map[string]any `json:"record"`
	}
	if err := json.Unmarshal([]byte(signIn.body), &guest); err != nil {
		t.Fatal(err)
	}
	cookie := signIn.authCookie()

	up := s.do("POST", "/api/test/upgrade", `{"email":"hook-up@example.com","password":"s3cret-pass","passwordConfirm":"s3cret-pass"}`,
		"Content-Type: application/json", "Cookie: "+cookie)
	mustStatus(t, up, http.StatusOK)
	var upgraded struct {
		Token  string         `json:"token"`
		Record map[string]any `json:"record"`
	}
	if err := json.Unmarshal([]byte(up.body), &upgraded); err != nil {
		t.Fatal(err)
	}
	if upgraded.Record["id"] != guest.Record["id"] || upgraded.Record["isAnonymous"] != false {
		t.Fatalf("not upgraded in place: %s", up.body)
	}
	newCookie := up.authCookie()
	if newCookie == "" || newCookie == cookie {
		t.Fatalf("the answer must rewrite the pb_auth cookie, got %q", newCookie)
	}

	refresh := "/api/collections/users/auth-refresh"
	mustStatus(t, s.do("POST", refresh, "", "Authorization: "+guest.Token), http.StatusUnauthorized)
	mustStatus(t, s.do("POST", refresh, "", "Cookie: "+cookie), http.StatusUnauthorized)
	mustStatus(t, s.do("POST", refresh, "", "Authorization: "+upgraded.Token), http.StatusOK)
	mustStatus(t, s.do("POST", refresh, "", "Cookie: "+newCookie), http.StatusOK)

	if rec, err := s.app.FindRecordById("users", guest.Record["id"].(string)); err != nil || anonauth.IsAnonymous(rec) {
		t.Fatalf("the record is not upgraded: %v %v", rec, err)
	}
}
