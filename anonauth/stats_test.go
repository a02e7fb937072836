package anonauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
)

type statsRow struct {
	Id           string `json:"id"`
	Collection   string `json:"collection"`
	Guests       int    `json:"guests"`
	Active24h    int    `json:"active24h"`
	Active30d    int    `json:"active30d"`
	Created24h   int    `json:"created24h"`
	Created30d   int    `json:"created30d"`
	Converted24h int    `json:"converted24h"`
	Converted30d int    `json:"converted30d"`
	Merged24h    int    `json:"merged24h"`
	Deleted24h   int    `json:"deleted24h"`
	Deleted30d   int    `json:"deleted30d"`
}

func TestStatsView(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	h := serve(t, app)

	// 5 guests: one upgraded, one deleted by the cleanup, one deleted by
	// itself, one idle for 3 days, one active.
	var g [5]*core.Record
	for i := range g {
		g[i], _ = guestToken(t, app, "users")
	}
	e, _ := newRequestEvent(app)
	e.Auth = g[0]
	if _, err := p.Upgrade(e, anonauth.UpgradeInput{Email: "upgraded@example.org", Password: "1234567890", PasswordConfirm: "1234567890"}); err != nil {
		t.Fatal(err)
	}
	backdate(t, app, g[1], 40*day)
	if res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{}); err != nil || res.Deleted != 1 {
		t.Fatalf("cleanup: %+v %v", res, err)
	}
	e, _ = newRequestEvent(app)
	e.Auth = g[2]
	if err := p.DeleteAnonymous(e); err != nil {
		t.Fatal(err)
	}
	backdate(t, app, g[3], 3*day)

	// Superusers only.
	_, userTok := userToken(t, app, "test@example.com")
	if res := request(t, h, http.MethodGet, "/api/collections/anonymousStats/records", userTok); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a regular user read the stats: %d", res.StatusCode)
	}
	superuser, _ := app.FindAuthRecordByEmail("_superusers", "test@example.com")
	suTok, _ := superuser.NewAuthToken()
	res := request(t, h, http.MethodGet, "/api/collections/anonymousStats/records", suTok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("superuser: %d", res.StatusCode)
	}
	var list struct {
		Items []statsRow `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("want one row (users), got %+v", list.Items)
	}
	got := list.Items[0]
	want := statsRow{
		Id: "users", Collection: "users",
		Guests: 2, Active24h: 1, Active30d: 2,
		Created24h: 5, Created30d: 5, // all five were created today, whatever became of them
		Converted24h: 1, Converted30d: 1,
		Deleted24h: 2, Deleted30d: 2,
	}
	if got != want {
		t.Fatalf("stats:\n got %+v\nwant %+v", got, want)
	}

	// The view and the events collection are created once (idempotent).
	view, _ := app.FindCollectionByNameOrId(anonauth.StatsCollection)
	if err := p.EnsureSchema(app); err != nil {
		t.Fatal(err)
	}
	again, _ := app.FindCollectionByNameOrId(anonauth.StatsCollection)
	if !again.Updated.Equal(view.Updated) {
		t.Fatal("EnsureSchema re-saved an unchanged stats view")
	}
	if view.ListRule != nil || view.ViewRule != nil {
		t.Fatal("the stats view must be superuser-only")
	}
}

// TestCleanupUsesThePartialIndex: the cleanup's page query and the guest
// count read the guests-only index, not the table.
func TestCleanupUsesThePartialIndex(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()

	for _, q := range []string{
		"SELECT id, lastSeen FROM users WHERE (isAnonymous = 1) AND (lastSeen > '') AND (lastSeen < '2026-01-01') AND ((lastSeen, id) > ('', '')) ORDER BY lastSeen, id LIMIT 100",
		"SELECT COUNT(*) FROM users WHERE (isAnonymous = 1) AND (lastSeen > '') AND (lastSeen < '2026-01-01')",
		"SELECT COUNT(*) FROM users WHERE isAnonymous = 1 AND created >= '2026-01-01'",
	} {
		var plan []struct {
			Detail string `db:"detail"`
		}
		if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + q).All(&plan); err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, p := range plan {
			details = append(details, p.Detail)
		}
		all := strings.Join(details, "; ")
		if !strings.Contains(all, "idx_anon_") || strings.Contains(all, "TEMP B-TREE") {
			t.Fatalf("query does not use a guest index:\n%s\n%s", q, all)
		}
	}
}

// TestEventsOnlyForEndings: merges persist an event too (the audit of every
// path that ends a guest), and a sign-in persists none (hot path).
func TestEventsOnlyForEndings(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	h := serve(t, app)
	for i := 0; i < 3; i++ {
		request(t, h, http.MethodPost, signInURL, "")
	}
	if n, _ := app.CountRecords(anonauth.EventsCollection); n != 0 {
		t.Fatalf("sign-ins wrote %d event rows", n)
	}
	guest, _ := guestToken(t, app, "users")
	user, _ := app.FindAuthRecordByEmail("users", "test@example.com")
	if err := anonauth.FromApp(app).Link(app, guest, user); err != nil {
		t.Fatal(err)
	}
	n, _ := app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": anonauth.AuditMerged, "recordRef": guest.Id})
	if n != 1 {
		t.Fatalf("a merge must persist one event, got %d", n)
	}
}
