package pages_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"
)

// TestStorageFaultsInPages: with the database read-only (PRAGMA query_only
// on PocketBase's write connection, a real SQLITE_READONLY), a page's
// signInAnonymously() throws an error with .status 503 and the storage
// message: a page that catches it shows it, an uncaught one answers 503 with
// Retry-After. A sign-in works again once the database is writable.
func TestStorageFaultsInPages(t *testing.T) {
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
	caught := s.do("POST", "/guest", "mode=anonymous")
	mustStatus(t, caught, http.StatusOK)
	mustContain(t, caught, "can&#39;t store data right now")

	uncaught := s.do("GET", "/bench-signin", "")
	mustStatus(t, uncaught, http.StatusServiceUnavailable)
	if uncaught.header.Get("Retry-After") == "" {
		t.Fatal("an uncaught storage fault answered 503 without Retry-After")
	}

	pragma("query_only = OFF")
	mustStatus(t, s.do("GET", "/bench-signin", ""), http.StatusOK)
}
