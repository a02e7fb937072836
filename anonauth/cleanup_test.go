package anonauth_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/logger"

	"github.com/pocketguest/pocketguest/anonauth"
)

const day = 24 * time.Hour

// cleanupFixture: 3 stale guests (50, 45, 40 days idle), 2 fresh guests
// (1 day, just now), 1 converted account idle for 60 days, and the test
// users. MaxAge is the default 30 days.
type cleanupFixture struct {
	stale     []*core.Record
	fresh     []*core.Record
	converted *core.Record
}

func newCleanupFixture(t testing.TB, app core.App) *cleanupFixture {
	t.Helper()
	f := &cleanupFixture{}
	for _, age := range []time.Duration{50 * day, 45 * day, 40 * day} {
		g, _ := guestToken(t, app, "users")
		backdate(t, app, g, age)
		f.stale = append(f.stale, g)
	}
	for _, age := range []time.Duration{day, 0} {
		g, _ := guestToken(t, app, "users")
		backdate(t, app, g, age)
		f.fresh = append(f.fresh, g)
	}
	g, _ := guestToken(t, app, "users")
	backdate(t, app, g, 60*day)
	if _, err := app.DB().Update("users", dbx.Params{anonauth.FieldIsAnonymous: false}, dbx.HashExp{"id": g.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	f.converted = g
	return f
}

func exists(t testing.TB, app core.App, r *core.Record) bool {
	t.Helper()
	_, err := app.FindRecordById(r.Collection().Name, r.Id)
	return err == nil
}

// enableLogs turns PocketBase's log persistence on (the test app has it
// off), for auditLogs.
func enableLogs(app core.App) { app.Settings().Logs.MaxDays = 7 }

// auditLogs flushes PocketBase's log batch and returns the data of every
// log entry with the given message.
func auditLogs(t testing.TB, app core.App, message string) []map[string]any {
	t.Helper()
	if h, ok := app.Logger().Handler().(*logger.BatchHandler); ok {
		if err := h.WriteAll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var logs []*core.Log
	if err := app.LogQuery().Where(dbx.HashExp{"message": message}).All(&logs); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(logs))
	for i, l := range logs {
		out[i] = l.Data
	}
	return out
}

func TestCleanupDeletesExactlyTheStaleGuests(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{CleanupBatchSize: 2, EmptyMaxAge: -1})
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	f := newCleanupFixture(t, app)
	enableLogs(app)
	usersBefore, _ := app.CountRecords("users", dbx.HashExp{anonauth.FieldIsAnonymous: false})

	var progress []anonauth.CleanupProgress
	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{
		Progress: func(pr anonauth.CleanupProgress) { progress = append(progress, pr) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != 3 || res.Deleted != 3 || res.Skipped != 0 {
		t.Fatalf("expected found 3, deleted 3, skipped 0, got %+v", res)
	}
	for _, g := range f.stale {
		if exists(t, app, g) {
			t.Fatalf("stale guest %s not deleted", g.Id)
		}
	}
	for _, g := range f.fresh {
		if !exists(t, app, g) {
			t.Fatalf("fresh guest %s deleted", g.Id)
		}
	}
	if !exists(t, app, f.converted) {
		t.Fatal("a converted account was deleted")
	}
	if usersAfter, _ := app.CountRecords("users", dbx.HashExp{anonauth.FieldIsAnonymous: false}); usersAfter != usersBefore {
		t.Fatalf("regular users changed: %d -> %d", usersBefore, usersAfter)
	}

	// Batches of 2: the count, then 2 + 1.
	if len(progress) != 3 || progress[0].Found != 3 || progress[2].Deleted != 3 {
		t.Fatalf("unexpected progress reports: %+v", progress)
	}

	// Each deletion is audited, in PocketBase's logs and as an event row.
	logs := auditLogs(t, app, anonauth.AuditDeleted)
	if len(logs) != 3 {
		t.Fatalf("expected 3 %s log entries, got %d", anonauth.AuditDeleted, len(logs))
	}
	ids := map[string]bool{}
	for _, l := range logs {
		ids[l["recordId"].(string)] = true
		if l["collection"] != "users" || l["reason"] != "cleanup" {
			t.Fatalf("log entry misses collection/reason: %v", l)
		}
		if age, err := time.ParseDuration(l["age"].(string)); err != nil || age < 39*day {
			t.Fatalf("log entry has a wrong age: %v", l["age"])
		}
	}
	for _, g := range f.stale {
		if !ids[g.Id] {
			t.Fatalf("no audit log for %s", g.Id)
		}
	}
	events, _ := app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": anonauth.AuditDeleted})
	if events != 3 {
		t.Fatalf("expected 3 persisted deleted events, got %d", events)
	}

	// A second run finds nothing.
	res, err = p.Cleanup(context.Background(), anonauth.CleanupOptions{})
	if err != nil || res.Found != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
}

// TestCleanupRechecksInsideTheTransaction: a guest converted (or active)
// after the cleanup listed it is skipped, never deleted.
func TestCleanupRechecksInsideTheTransaction(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{EmptyMaxAge: -1}) // MaxAge alone (emptyguests_test.go: the early pass)
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	f := newCleanupFixture(t, app)
	oldest, middle, newest := f.stale[0], f.stale[1], f.stale[2]

	// When the oldest guest is deleted (first in the batch), another request
	// "converts" the newest one and the middle one becomes active in memory
	// (its lastSeen write is still pending).
	app.OnRecordDelete("users").BindFunc(func(e *core.RecordEvent) error {
		if e.Record.Id == oldest.Id {
			if _, err := e.App.DB().Update("users", dbx.Params{anonauth.FieldIsAnonymous: false}, dbx.HashExp{"id": newest.Id}).Execute(); err != nil {
				return err
			}
			p.NoteActivity(middle)
		}
		return e.Next()
	})

	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != 3 || res.Deleted != 1 || res.Skipped != 2 {
		t.Fatalf("expected found 3, deleted 1, skipped 2, got %+v", res)
	}
	if exists(t, app, oldest) || !exists(t, app, middle) || !exists(t, app, newest) {
		t.Fatal("wrong guests deleted")
	}
}

// TestCleanupSkipsAGuestItCannotDelete: a delete refused by an app hook
// skips that guest only (its batch is retried one guest at a time).
func TestCleanupSkipsAGuestItCannotDelete(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{EmptyMaxAge: -1}) // MaxAge alone (emptyguests_test.go: the early pass)
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	f := newCleanupFixture(t, app)
	keep := f.stale[1]
	enableLogs(app)
	app.OnRecordDelete("users").BindFunc(func(e *core.RecordEvent) error {
		if e.Record.Id == keep.Id {
			return errAppRefuses
		}
		return e.Next()
	})

	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != 3 || res.Deleted != 2 || res.Skipped != 1 || !exists(t, app, keep) {
		t.Fatalf("expected 2 deleted and the refused one kept, got %+v", res)
	}
	if n := len(auditLogs(t, app, anonauth.AuditDeleted)); n != 2 {
		t.Fatalf("a rolled back batch left audit entries: %d, want 2", n)
	}
}

var errAppRefuses = &refusal{}

type refusal struct{}

func (*refusal) Error() string { return "the app refuses" }

func TestCleanupDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{EmptyMaxAge: -1}) // MaxAge alone (emptyguests_test.go: the early pass)
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	newCleanupFixture(t, app)
	enableLogs(app)
	before, _ := app.CountRecords("users")

	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != 3 || res.Deleted != 0 || res.Skipped != 0 {
		t.Fatalf("dry run: %+v", res)
	}
	if after, _ := app.CountRecords("users"); after != before {
		t.Fatalf("dry run deleted records: %d -> %d", before, after)
	}
	if n := len(auditLogs(t, app, anonauth.AuditDeleted)); n != 0 {
		t.Fatalf("dry run audited %d deletions", n)
	}
}

func runCommand(t testing.TB, p *anonauth.Plugin, args ...string) (string, error) {
	t.Helper()
	cmd := p.Command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestCleanupCommand(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{EmptyMaxAge: -1}) // MaxAge alone (emptyguests_test.go: the early pass)
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	f := newCleanupFixture(t, app)
	before, _ := app.CountRecords("users")

	// --dry-run changes nothing and says what it found.
	out, err := runCommand(t, p, "cleanup", "--dry-run")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "dry run: found 3 guests") {
		t.Fatalf("unexpected dry-run output:\n%s", out)
	}
	if after, _ := app.CountRecords("users"); after != before {
		t.Fatalf("dry run deleted records: %d -> %d", before, after)
	}

	// --max-age 1081h (45 days + 1h): only the 50-day-old guest is stale.
	out, err = runCommand(t, p, "cleanup", "--max-age", "1081h", "--batch", "1")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "found 1, deleted 1, skipped 0") || exists(t, app, f.stale[0]) || !exists(t, app, f.stale[1]) {
		t.Fatalf("unexpected --max-age run:\n%s", out)
	}
	if !strings.Contains(out, "users: 1/1 processed (100%), 1 deleted, 0 skipped") {
		t.Fatalf("no progress line:\n%s", out)
	}

	// Default max age (30 days): the other two.
	out, err = runCommand(t, p, "cleanup")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "found 2, deleted 2, skipped 0") {
		t.Fatalf("unexpected run:\n%s", out)
	}

	if _, err := runCommand(t, p, "cleanup", "--collection", "clients"); err == nil {
		t.Fatal("a collection without anonymous sign-in must be an error")
	}
}

func TestCleanupCronJob(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{CleanupSchedule: "*/10 * * * *"})
	defer app.Cleanup()
	var job bool
	for _, j := range app.Cron().Jobs() {
		if j.Id() == "anonymousCleanup" && j.Expression() == "*/10 * * * *" {
			job = true
		}
	}
	if !job {
		t.Fatal("the cleanup cron job is not registered")
	}

	// Its function is the cleanup.
	f := newCleanupFixture(t, app)
	for _, j := range app.Cron().Jobs() {
		if j.Id() == "anonymousCleanup" {
			j.Run()
		}
	}
	for _, g := range f.stale {
		if exists(t, app, g) {
			t.Fatal("the cron job did not delete a stale guest")
		}
	}

	disabled := newTestApp(t, anonauth.Config{MaxAge: -1, EmptyMaxAge: -1})
	defer disabled.Cleanup()
	for _, j := range disabled.Cron().Jobs() {
		if j.Id() == "anonymousCleanup" {
			t.Fatal("MaxAge < 0 and EmptyMaxAge < 0 must not register the job")
		}
	}

	bad, _ := tests.NewTestApp()
	defer bad.Cleanup()
	if _, err := anonauth.Register(bad, anonauth.Config{CleanupSchedule: "every now and then"}); err == nil {
		t.Fatal("an invalid schedule must fail Register")
	}
}
