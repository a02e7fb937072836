package anonauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
)

// emptyFixture: guests of every kind for the early cleanup of empty guests,
// with an "orders" collection (single relation owner → users) and a "teams"
// collection (multiple relation members → users).
type emptyFixture struct {
	emptyIdle   *core.Record // 2 days idle, owns nothing: deleted (empty)
	ordered     *core.Record // 2 days idle, owns an order: kept
	member      *core.Record // 2 days idle, in a team: kept
	emptyRecent *core.Record // 1 hour idle, owns nothing: kept
	staleOwner  *core.Record // 40 days idle, owns an order: deleted (MaxAge)
}

func newEmptyFixture(t testing.TB, app core.App) *emptyFixture {
	t.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	orders := core.NewBaseCollection("orders")
	orders.Fields.Add(&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true})
	teams := core.NewBaseCollection("teams")
	teams.Fields.Add(&core.RelationField{Name: "members", CollectionId: users.Id, MaxSelect: 10})
	for _, c := range []*core.Collection{orders, teams} {
		if err := app.Save(c); err != nil {
			t.Fatal(err)
		}
	}

	guest := func(age time.Duration) *core.Record {
		g, _ := guestToken(t, app, "users")
		backdate(t, app, g, age)
		return g
	}
	f := &emptyFixture{
		emptyIdle:   guest(2 * day),
		ordered:     guest(2 * day),
		member:      guest(2 * day),
		emptyRecent: guest(time.Hour),
		staleOwner:  guest(40 * day),
	}
	for _, owner := range []*core.Record{f.ordered, f.staleOwner} {
		o := core.NewRecord(orders)
		o.Set("owner", owner.Id)
		if err := app.Save(o); err != nil {
			t.Fatal(err)
		}
	}
	team := core.NewRecord(teams)
	team.Set("members", []string{f.member.Id})
	if err := app.Save(team); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCleanupDeletesEmptyGuestsEarly(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	enableLogs(app)
	p := anonauth.FromApp(app)
	f := newEmptyFixture(t, app)

	dry, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Found != 2 {
		t.Fatalf("dry run must count each guest once (1 stale + 1 empty), got %+v", dry)
	}

	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 2 || res.DeletedEmpty != 1 {
		t.Fatalf("want 2 deleted of which 1 empty, got %+v", res)
	}
	for _, g := range []*core.Record{f.emptyIdle, f.staleOwner} {
		if exists(t, app, g) {
			t.Fatalf("guest %s must be deleted", g.Id)
		}
	}
	for _, g := range []*core.Record{f.ordered, f.member, f.emptyRecent} {
		if !exists(t, app, g) {
			t.Fatalf("guest %s must be kept", g.Id)
		}
	}

	// Audited with reason "empty" (log line and event row), counted by the
	// stats view.
	var reasons []string
	for _, l := range auditLogs(t, app, anonauth.AuditDeleted) {
		reasons = append(reasons, l["reason"].(string))
	}
	if strings.Join(reasons, ",") != "cleanup,empty" && strings.Join(reasons, ",") != "empty,cleanup" {
		t.Fatalf("audit reasons %v", reasons)
	}
	if n, _ := app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": anonauth.AuditDeleted, "reason": "empty", "recordRef": f.emptyIdle.Id}); n != 1 {
		t.Fatal("no event row with reason empty")
	}
	var stats struct {
		Deleted24h      int `db:"deleted24h"`
		DeletedEmpty24h int `db:"deletedEmpty24h"`
	}
	if err := app.DB().Select("deleted24h", "deletedEmpty24h").From(anonauth.StatsCollection).
		Where(dbx.HashExp{"collection": "users"}).One(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.Deleted24h != 2 || stats.DeletedEmpty24h != 1 {
		t.Fatalf("stats view: %+v", stats)
	}
}

// TestEmptyGuestsOwnerIndexes: the relation columns that point at guests
// are indexed, the check uses the index, and the index follows the schema.
func TestEmptyGuestsOwnerIndexes(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	newEmptyFixture(t, app)

	orders, _ := app.FindCollectionByNameOrId("orders")
	rel := orders.Fields.GetByName("owner")
	name := "idx_anon_owner_" + orders.Id + "_" + rel.GetId()
	if orders.GetIndex(name) == "" {
		t.Fatalf("no owner index on orders.owner: %v", orders.Indexes)
	}

	// SQLite answers the check with the index, not a scan of orders.
	var plan []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN SELECT 1 FROM users WHERE NOT EXISTS (SELECT 1 FROM orders __o WHERE __o.owner = users.id)").All(&plan); err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, r := range plan {
		details = append(details, r.Detail)
	}
	if !strings.Contains(strings.Join(details, "\n"), name) {
		t.Fatalf("the owner check does not use %s:\n%s", name, strings.Join(details, "\n"))
	}

	// The field goes: so does the index, in the same save (which must
	// succeed: an index on a missing column would fail it).
	orders.Fields.RemoveByName("owner")
	if err := app.Save(orders); err != nil {
		t.Fatal(err)
	}
	orders, _ = app.FindCollectionByNameOrId("orders")
	if orders.GetIndex(name) != "" {
		t.Fatal("the owner index must go with its field")
	}

	// A field added later gets one.
	users, _ := app.FindCollectionByNameOrId("users")
	orders.Fields.Add(&core.RelationField{Name: "buyer", CollectionId: users.Id, MaxSelect: 1})
	if err := app.Save(orders); err != nil {
		t.Fatal(err)
	}
	orders, _ = app.FindCollectionByNameOrId("orders")
	buyerIndex := "idx_anon_owner_" + orders.Id + "_" + orders.Fields.GetByName("buyer").GetId()
	if orders.GetIndex(buyerIndex) == "" {
		t.Fatalf("no owner index on the new field: %v", orders.Indexes)
	}

	// The app indexes the column itself: ours gives way (PocketBase would
	// refuse two indexes with one definition; one is enough anyway).
	orders.AddIndex("idx_app_buyer", false, "`buyer`", "")
	if err := app.Save(orders); err != nil {
		t.Fatal(err)
	}
	orders, _ = app.FindCollectionByNameOrId("orders")
	if orders.GetIndex(buyerIndex) != "" || orders.GetIndex("idx_app_buyer") == "" {
		t.Fatalf("want the app's index only: %v", orders.Indexes)
	}
}

func TestCleanupCommandEmptyMaxAge(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	f := newEmptyFixture(t, app)

	// Off: only MaxAge.
	out, err := runCommand(t, p, "cleanup", "--empty-max-age", "0")
	if err != nil || !strings.Contains(out, "deleted 1,") || !exists(t, app, f.emptyIdle) {
		t.Fatalf("--empty-max-age 0: %v\n%s", err, out)
	}
	// 30 minutes: both empty guests.
	out, err = runCommand(t, p, "cleanup", "--empty-max-age", "30m")
	if err != nil || !strings.Contains(out, "of which 2 owned nothing") || exists(t, app, f.emptyRecent) || !exists(t, app, f.ordered) {
		t.Fatalf("--empty-max-age 30m: %v\n%s", err, out)
	}
}
