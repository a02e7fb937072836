package anonauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Storage faults are injected into the real SQLite database, deterministically:
// PRAGMA max_page_count caps the file at its current size (the next page
// needed fails with SQLITE_FULL, as on a full disk) and PRAGMA query_only
// makes every write fail with SQLITE_READONLY. Both apply to PocketBase's
// single write connection (NonconcurrentDB), which is kept open for the
// whole test.

func writeConn(t testing.TB, app core.App, pragma string) {
	t.Helper()
	if _, err := app.NonconcurrentDB().NewQuery("PRAGMA " + pragma).Execute(); err != nil {
		t.Fatalf("PRAGMA %s: %v", pragma, err)
	}
}

func pinWriteConn(app core.App) {
	app.NonconcurrentDB().(*dbx.DB).DB().SetConnMaxIdleTime(0) // pragmas live as long as the connection
}

func capDatabaseSize(t testing.TB, app core.App) {
	t.Helper()
	var pages int
	if err := app.NonconcurrentDB().NewQuery("PRAGMA page_count").Row(&pages); err != nil {
		t.Fatal(err)
	}
	writeConn(t, app, fmt.Sprintf("max_page_count = %d", pages))
}

func mustBeUnavailable(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("want 503, got %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != "30" {
		t.Fatalf("Retry-After: want 30, got %q", got)
	}
	var body struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Status != 503 ||
		!strings.Contains(body.Message, "can't store data right now") {
		t.Fatalf("not PocketBase's error JSON with the storage message: %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "disk") || strings.Contains(rec.Body.String(), "readonly") {
		t.Fatalf("the SQLite cause must be logged, not shown: %s", rec.Body)
	}
	if c := rec.Header().Values("Set-Cookie"); len(c) > 0 {
		t.Fatalf("a failed sign-in must set no cookie: %v", c)
	}
}

func postTo(h http.Handler, url, body string, headers ...string) *httptest.ResponseRecorder {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(http.MethodPost, url, nil)
	} else {
		req = httptest.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestDiskFullAnswers503: with the database unable to grow, auth-anonymously
// answers 503 + Retry-After (not 400), writes no partial guest, and works
// again once space is back, with an intact database.
func TestDiskFullAnswers503(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{RateLimit: -1})
	defer app.Cleanup()
	app.Settings().Logs.MaxDays = 1 // the test data keeps no logs
	pinWriteConn(app)
	h := serve(t, app)

	capDatabaseSize(t, app)
	var failed *httptest.ResponseRecorder
	created := 0
	for i := 0; i < 2000 && failed == nil; i++ {
		rec := postTo(h, signInURL, "")
		if rec.Code == http.StatusOK {
			created++
			continue
		}
		failed = rec
	}
	if failed == nil {
		t.Fatal("the capped database never filled up")
	}
	mustBeUnavailable(t, failed)
	if n := countGuests(t, app, "users"); n != created {
		t.Fatalf("%d guests for %d successful sign-ins: the failed one left a row", n, created)
	}

	writeConn(t, app, "max_page_count = 1073741823")
	if rec := postTo(h, signInURL, ""); rec.Code != http.StatusOK {
		t.Fatalf("after space is back: %d %s", rec.Code, rec.Body)
	}
	var check string
	if err := app.DB().NewQuery("PRAGMA integrity_check").Row(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}

	// The cause is in PocketBase's logs (flushed by the terminate hook,
	// instead of waiting for the logger's ticker).
	if err := app.OnTerminate().Trigger(&core.TerminateEvent{App: app}); err != nil {
		t.Fatal(err)
	}
	var logs []*core.Log
	if err := app.LogQuery().AndWhere(dbx.HashExp{"message": "anonauth: storage fault, answered 503"}).All(&logs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range logs {
		found = found || strings.Contains(fmt.Sprint(l.Data["error"]), "database or disk is full")
	}
	if !found {
		t.Fatal("the storage fault was not logged with its cause")
	}
}

// TestReadOnlyDatabaseAnswers503: upgrade-anonymous and delete-anonymous
// (and the sign-in) answer 503 while the database is read-only, change
// nothing, and work once it is writable again.
func TestReadOnlyDatabaseAnswers503(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{RateLimit: -1})
	defer app.Cleanup()
	pinWriteConn(app)
	h := serve(t, app)

	guest, token := guestToken(t, app, "users")
	upgrade := `{"email":"ro@example.org","password":"12345678910","passwordConfirm":"12345678910"}`

	writeConn(t, app, "query_only = ON")
	mustBeUnavailable(t, postTo(h, signInURL, ""))
	mustBeUnavailable(t, postTo(h, "/api/collections/users/upgrade-anonymous", upgrade, "Authorization", token))
	mustBeUnavailable(t, postTo(h, "/api/collections/users/delete-anonymous", "", "Authorization", token))

	// The Go API (what the JS globals call) gets the same typed error.
	e, rec := newRequestEvent(app)
	_, err := anonauth.FromApp(app).SignIn(e, anonauth.SignInOptions{})
	var fault *anonauth.StorageFaultError
	if !errors.As(err, &fault) || fault.Status != 503 || !anonauth.IsStorageFault(err) || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("SignIn on a read-only database: %v (Retry-After %q)", err, rec.Header().Get("Retry-After"))
	}

	writeConn(t, app, "query_only = OFF")
	fresh, err := app.FindRecordById("users", guest.Id)
	if err != nil || !anonauth.IsAnonymous(fresh) {
		t.Fatalf("the refused requests changed the guest: %v", err)
	}
	if rec := postTo(h, "/api/collections/users/upgrade-anonymous", upgrade, "Authorization", token); rec.Code != http.StatusOK {
		t.Fatalf("upgrade once writable: %d %s", rec.Code, rec.Body)
	}
}

// TestStatementErrorsAreNotStorageFaults: a constraint violation is the
// request's fault (or the app's), never a 503.
func TestStatementErrorsAreNotStorageFaults(t *testing.T) {
	t.Parallel()

	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()

	_, err = app.DB().NewQuery("INSERT INTO users (id, email, tokenKey, password) SELECT id, email, tokenKey, password FROM users LIMIT 1").Execute()
	if err == nil {
		t.Fatal("expected a UNIQUE constraint error")
	}
	if anonauth.IsStorageFault(err) {
		t.Fatalf("a constraint violation classified as a storage fault: %v", err)
	}
	_, err = app.DB().NewQuery("SELECT * FROM no_such_table").Execute()
	if err == nil || anonauth.IsStorageFault(err) {
		t.Fatalf("a missing table classified as a storage fault: %v", err)
	}
	if anonauth.IsStorageFault(nil) {
		t.Fatal("nil is no fault")
	}
}
