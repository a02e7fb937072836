package anonauth_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketguest/pocketguest/anonauth"
)

// backdate sets a record's lastSeen directly in the database (as if the
// guest had been idle for age).
func backdate(t testing.TB, app core.App, record *core.Record, age time.Duration) {
	t.Helper()
	dt, _ := types.ParseDateTime(time.Now().Add(-age))
	_, err := app.DB().Update(record.Collection().Name,
		dbx.Params{anonauth.FieldLastSeen: dt.String()},
		dbx.HashExp{"id": record.Id}).Execute()
	if err != nil {
		t.Fatal(err)
	}
}

// lastSeen reads a record's stored lastSeen.
func lastSeen(t testing.TB, app core.App, record *core.Record) time.Time {
	t.Helper()
	fresh, err := app.FindRecordById(record.Collection(), record.Id)
	if err != nil {
		t.Fatal(err)
	}
	return fresh.GetDateTime(anonauth.FieldLastSeen).Time()
}

// activityWrites counts the UPDATE statements of lastSeen that reach the
// database from now on, through dbx's statement log of the app's
// connections (call it before the requests it should see).
type activityWrites struct{ n atomic.Int64 }

func countActivityWrites(t testing.TB, app core.App) *activityWrites {
	t.Helper()
	w := &activityWrites{}
	for _, b := range []dbx.Builder{app.NonconcurrentDB(), app.ConcurrentDB()} {
		db, ok := b.(*dbx.DB)
		if !ok {
			t.Fatalf("the app's database is a %T, not a *dbx.DB", b)
		}
		prev := db.ExecLogFunc
		db.ExecLogFunc = func(ctx context.Context, d time.Duration, query string, res sql.Result, err error) {
			if err == nil && strings.HasPrefix(query, "UPDATE") && strings.Contains(query, anonauth.FieldLastSeen) {
				w.n.Add(1)
			}
			if prev != nil {
				prev(ctx, d, query, res, err)
			}
		}
	}
	return w
}

func (w *activityWrites) Load() int64 { return w.n.Load() }

func request(t testing.TB, h http.Handler, method, url, token string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestSignInStampsLastSeen(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	h := serve(t, app)

	before := time.Now().Add(-time.Second)
	res := request(t, h, http.MethodPost, signInURL, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	body := decodeAuth(t, res)
	guest, err := app.FindRecordById("users", body.Record["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if seen := guest.GetDateTime(anonauth.FieldLastSeen).Time(); seen.Before(before) {
		t.Fatalf("lastSeen not stamped at sign-in: %v", seen)
	}

	// Clients cannot set it (an autodate): a guest cannot dodge the cleanup.
	req := httptest.NewRequest(http.MethodPatch, "/api/collections/users/records/"+guest.Id,
		strings.NewReader(`{"lastSeen":"2999-01-01 00:00:00.000Z"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", body.Token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := lastSeen(t, app, guest); got.Year() == 2999 {
		t.Fatalf("a client moved its own lastSeen to %v (status %d)", got, rec.Code)
	}
}

// TestActivityIsBatched: many requests of a guest cost no write until the
// flush, then exactly one; auth-refresh counts as activity; regular users
// are not tracked.
func TestActivityIsBatched(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	h := serve(t, app)

	guest, token := guestToken(t, app, "users")
	other, _ := guestToken(t, app, "users")
	_, userTok := userToken(t, app, "test@example.com")
	backdate(t, app, guest, 10*24*time.Hour)
	backdate(t, app, other, 10*24*time.Hour)
	writes := countActivityWrites(t, app)

	for i := 0; i < 20; i++ {
		res := request(t, h, http.MethodGet, "/api/collections/users/records/"+guest.Id, token)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, res.StatusCode)
		}
		request(t, h, http.MethodGet, "/api/collections/users/records", userTok)
	}
	if n := writes.Load(); n != 0 {
		t.Fatalf("activity must not be written per request, got %d writes", n)
	}
	if age := time.Since(lastSeen(t, app, guest)); age < 9*24*time.Hour {
		t.Fatalf("lastSeen moved before the flush: %v old", age)
	}

	if err := p.FlushActivity(); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 1 {
		t.Fatalf("one flush of one active guest must be one write, got %d", n)
	}
	if age := time.Since(lastSeen(t, app, guest)); age > time.Minute {
		t.Fatalf("lastSeen not updated by the flush: %v old", age)
	}
	if age := time.Since(lastSeen(t, app, other)); age < 9*24*time.Hour {
		t.Fatal("an idle guest's lastSeen moved")
	}

	// Nothing pending: a flush writes nothing.
	if err := p.FlushActivity(); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 1 {
		t.Fatalf("an empty flush wrote %d rows", n-1)
	}

	// auth-refresh of the idle guest is activity.
	otherToken, _ := p.NewToken(other)
	res := request(t, h, http.MethodPost, "/api/collections/users/auth-refresh", otherToken)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("auth-refresh: %d", res.StatusCode)
	}
	if err := p.FlushActivity(); err != nil {
		t.Fatal(err)
	}
	if age := time.Since(lastSeen(t, app, other)); age > time.Minute {
		t.Fatalf("auth-refresh did not count as activity: lastSeen %v old", age)
	}
}

// TestActivityFlusherRuns: under serve, the background flusher writes the
// noted activity once per ActivityInterval without anyone calling Flush.
func TestActivityFlusherRuns(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{ActivityInterval: 50 * time.Millisecond})
	defer app.Cleanup()
	h := serve(t, app) // starts the flusher

	guest, token := guestToken(t, app, "users")
	backdate(t, app, guest, 48*time.Hour)
	request(t, h, http.MethodGet, "/api/collections/users/records/"+guest.Id, token)

	deadline := time.Now().Add(3 * time.Second)
	for time.Since(lastSeen(t, app, guest)) > time.Minute {
		if time.Now().After(deadline) {
			t.Fatal("the flusher did not write the guest's activity")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestActivityFlushOnTerminate: activity noted just before shutdown is not
// lost.
func TestActivityFlushOnTerminate(t *testing.T) {
	t.Parallel()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	p := anonauth.MustRegister(app, anonauth.Config{})
	guest, _ := guestToken(t, app, "users")
	backdate(t, app, guest, 48*time.Hour)
	p.NoteActivity(guest)

	// Terminate with a no-op final step (the app stays open to read back).
	event := &core.TerminateEvent{App: app}
	if err := app.OnTerminate().Trigger(event, func(e *core.TerminateEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if age := time.Since(lastSeen(t, app, guest)); age > time.Minute {
		t.Fatalf("pending activity lost on terminate: lastSeen %v old", age)
	}
	app.Cleanup()
}
