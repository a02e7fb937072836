package jsvm_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"
)

// TestStorageFaultsInJS: with the database read-only (PRAGMA query_only on
// PocketBase's write connection, a real SQLITE_READONLY), the pb_hooks
// globals throw an error with .status 503: a route that catches it answers
// 503, an uncaught one too; Retry-After is set. Writes work again once the
// database is writable. (Pages: pages/faults_test.go.)
func TestStorageFaultsInJS(t *testing.T) {
	s := newServer(t, testOptions{})
	db := s.app.NonconcurrentDB().(*dbx.DB)
	db.DB().SetConnMaxIdleTime(0) // the pragma lives as long as the connection
	pragma := func(p string) {
		t.Helper()
		if _, err := db.NewQuery("PRAGMA " + p).Execute(); err != nil {
			t.Fatal(err)
		}
	}

	pragma("query_only = ON")
	for _, req := range []struct{ method, url, body string }{
		{"POST", "/api/guest/start", `{}`},           // catches: e.json(err.status, ...)
		{"POST", "/api/test/uncaught?c=users", `{}`}, // uncaught
	} {
		headers := []string{}
		if req.body == `{}` {
			headers = append(headers, "Content-Type: application/json")
		}
		res := s.do(req.method, req.url, req.body, headers...)
		mustStatus(t, res, http.StatusServiceUnavailable)
		mustContain(t, res, `"status":503`, "store data right now")
		if res.header.Get("Retry-After") == "" {
			t.Fatalf("%s: no Retry-After", req.url)
		}
	}

	pragma("query_only = OFF")
	mustStatus(t, s.do("POST", "/api/guest/start", `{}`, "Content-Type: application/json"), http.StatusOK)
}
