package reliability

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketguest/pocketguest/internal/devserver"
)

// TestDemoFormsRefuseHostileShapes: every form of the demo shop (templates/)
// answers a body of the wrong shape with a 400 page, never a 500: a JSON
// field that is an object whose toString is not a function (String() of it
// throws), arrays, a repeated form field, a body that is not an object. With
// and without a guest session. And ?msg= cannot reach Object.prototype.
func TestDemoFormsRefuseHostileShapes(t *testing.T) {
	root, err := devserver.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ws := newWorkspace(t)
	if err := os.RemoveAll(ws.migrations); err != nil {
		t.Fatal(err)
	}
	for dst, sub := range map[string]string{ws.templates: "templates", ws.migrations: "pb_migrations"} {
		if err := devserver.CopyDir(filepath.Join(root, sub), dst); err != nil {
			t.Fatal(err)
		}
	}
	s := startHealthy(t, ws)

	guest := s.call("POST", "/api/collections/users/auth-anonymously", "", nil)
	var session string
	for _, c := range (&http.Response{Header: guest.header}).Cookies() {
		if c.Name == "pb_auth" {
			session = c.Name + "=" + c.Value
		}
	}
	if guest.status != 200 || session == "" {
		t.Fatalf("guest sign-in: %d %s", guest.status, guest.body)
	}

	hostile := []struct{ contentType, body string }{
		{"application/json", `{"email": {"toString": 1}, "password": "x"}`},
		{"application/json", `{"action": {"toString": 1}}`},
		{"application/json", `{"action": "upgrade", "email": ["a@example.com"], "password": {"valueOf": 1}}`},
		{"application/json", `{"action": "set", "product": {"toString": null}, "quantity": {"length": 1}}`},
		{"application/json", `{"action": "place-order", "name": {"a": 1}, "email": "x@example.com", "address": "road 1"}`},
		{"application/json", `{"product": [1, 2], "quantity": 1}`},
		{"application/json", `{"next": {"toString": 1}}`},
		{"application/json", `[1, 2, 3]`},
		{"application/json", `null`},
		{"application/json", `"just a string"`},
		{"application/json", `42`},
		{"application/x-www-form-urlencoded", "email=a%40example.com&email=b%40example.com&password=x"},
		{"application/x-www-form-urlencoded", "action=set&product=p&product=q"},
	}
	pages := []string{"/login", "/account", "/checkout", "/cart", "/"}

	for _, cookie := range []string{"", session} {
		for _, page := range pages {
			for _, h := range hostile {
				req, err := http.NewRequest("POST", s.url(page), strings.NewReader(h.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", h.contentType)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				res := s.do(req)
				if res.err != nil {
					t.Fatal(res.err)
				}
				if res.status != http.StatusBadRequest {
					t.Errorf("POST %s (session %v) %s: want 400, got %d\n%s", page, cookie != "", h.body, res.status, res.body)
				}
			}
		}
	}

	for _, msg := range []string{"constructor", "__proto__", "toString", "hasOwnProperty"} {
		res, err := http.Get(s.url("/?msg=" + msg))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || strings.Contains(string(raw), "native code") || strings.Contains(string(raw), "[object Object]") {
			t.Errorf("/?msg=%s: %d, the page shows an Object.prototype member", msg, res.StatusCode)
		}
	}

	if strings.Contains(s.log.String(), "panic") {
		t.Fatalf("the server logged a panic:\n%s", s.log.Tail(40))
	}
}
