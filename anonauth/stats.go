package anonauth

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Admin visibility: what the dashboard shows about guests.
//
//   - Every enabled collection gets a lastSeen autodate field (lifecycle.go
//     keeps it current) and two partial indexes that hold guests only, so
//     cleanup and the counts below read a small index, not the whole table.
//   - The anonymousEvents collection persists one row per converted, merged
//     or deleted guest (p.audit writes it in the caller's transaction).
//   - The anonymousStats view collection turns both into counts, one row per
//     enabled collection. Its rules are nil: superusers only.
//
// Sign-ins write no event row: sign-in is the hot path. The number of guests
// created in a window is derived instead: the guests that still exist and
// were created in the window (the created index), plus the ended guests
// (an event row, and no longer a live guest) whose record was created in it.
// Every guest is one or the other, so the sum is exact.

const (
	// EventsCollection persists converted / merged / deleted events.
	EventsCollection = "anonymousEvents"

	// StatsCollection is the read-only view with the guest counts.
	StatsCollection = "anonymousStats"

	// FieldLastSeen is the autodate field with a guest's last activity.
	FieldLastSeen = "lastSeen"
)

// persistedEvents are the audit events that get an anonymousEvents row.
var persistedEvents = map[string]bool{
	AuditConverted: true,
	AuditMerged:    true,
	AuditDeleted:   true,
}

// Index names carry the collection id (stable across renames), so a renamed
// collection keeps its indexes and two collections never clash.
func lastSeenIndexName(c *core.Collection) string { return "idx_anon_lastSeen_" + c.Id }
func createdIndexName(c *core.Collection) string  { return "idx_anon_created_" + c.Id }

// guestWhere is the partial-index condition. Queries must use exactly this
// term for SQLite to pick the partial indexes.
const guestWhere = "[[" + FieldIsAnonymous + "]] = 1"

// applyActivitySchema adds lastSeen and the guest indexes to collection in
// memory and reports whether it changed.
//
// Why an autodate (OnCreate) and not a plain date field: PocketBase sets it
// on create (so every sign-in stamps it, whatever path created the guest),
// and an autodate cannot be set through the records API, so a guest cannot
// push its own lastSeen into the future to escape the cleanup.
func applyActivitySchema(collection *core.Collection) bool {
	changed := false

	if collection.Fields.GetByName(FieldLastSeen) == nil {
		collection.Fields.Add(&core.AutodateField{Name: FieldLastSeen, OnCreate: true})
		changed = true
	}

	// (lastSeen, id): cleanup pages through stale guests in that order.
	// created: the "created in the last N days" counts of the stats view.
	// Partial (guests only): a million regular users cost them nothing.
	if collection.GetIndex(lastSeenIndexName(collection)) == "" {
		collection.AddIndex(lastSeenIndexName(collection), false, "`"+FieldLastSeen+"`, `id`", "`"+FieldIsAnonymous+"` = 1")
		changed = true
	}
	if collection.Fields.GetByName("created") != nil && collection.GetIndex(createdIndexName(collection)) == "" {
		collection.AddIndex(createdIndexName(collection), false, "`created`", "`"+FieldIsAnonymous+"` = 1")
		changed = true
	}

	return changed
}

// backfillLastSeen stamps guests that have no lastSeen (created before the
// field existed, or inserted around PocketBase's hooks) with their created
// date, so the cleanup can age them. Cheap on every serve: it reads the
// lastSeen = ” end of the partial index.
func backfillLastSeen(txApp core.App, collection *core.Collection) error {
	from := "strftime('%Y-%m-%d %H:%M:%fZ', 'now')"
	if collection.Fields.GetByName("created") != nil {
		from = "CASE WHEN [[created]] != '' THEN [[created]] ELSE " + from + " END"
	}
	_, err := txApp.DB().NewQuery(
		"UPDATE {{" + collection.Name + "}} SET [[" + FieldLastSeen + "]] = " + from +
			" WHERE " + guestWhere + " AND [[" + FieldLastSeen + "]] = ''",
	).Execute()
	return err
}

// ensureStats creates or updates the events collection and the stats view
// for the given (enabled, existing) auth collections. It saves nothing that
// is already in shape.
func ensureStats(txApp core.App, collections []*core.Collection) error {
	events, err := txApp.FindCollectionByNameOrId(EventsCollection)
	if err != nil {
		events = newEventsCollection()
		if err := txApp.Save(events); err != nil {
			return fmt.Errorf("failed to create the %s collection: %w", EventsCollection, err)
		}
	} else if applyEventsSchema(events) {
		// created by an older version: add the newer columns
		if err := txApp.Save(events); err != nil {
			return fmt.Errorf("failed to update the %s collection: %w", EventsCollection, err)
		}
	}

	query := statsViewQuery(collections)

	view, err := txApp.FindCollectionByNameOrId(StatsCollection)
	if err != nil {
		view = core.NewViewCollection(StatsCollection)
	} else if !view.IsView() {
		return fmt.Errorf("collection %q exists and is not a view; rename it to let anonauth create its stats view", StatsCollection)
	} else if view.ViewQuery == query {
		return nil
	}
	view.ViewQuery = query
	view.ListRule = nil // superusers only
	view.ViewRule = nil
	if err := txApp.Save(view); err != nil {
		return fmt.Errorf("failed to save the %s view: %w", StatsCollection, err)
	}
	return nil
}

func newEventsCollection() *core.Collection {
	c := core.NewBaseCollection(EventsCollection)
	c.System = true // not deletable or renamable by accident; rules stay nil (superusers)
	c.Fields.Add(
		&core.TextField{Name: "event", Required: true},
		&core.TextField{Name: "collectionRef"},
		&core.TextField{Name: "recordCollection"}, // the name at the time
		&core.TextField{Name: "recordRef"},
		&core.DateField{Name: "recordCreated"},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	applyEventsSchema(c)
	c.AddIndex("idx_anon_events_kind", false, "`collectionRef`, `event`, `created`", "")
	c.AddIndex("idx_anon_events_recordCreated", false, "`collectionRef`, `recordCreated`", "")
	c.AddIndex("idx_anon_events_created", false, "`created`", "")
	return c
}

// applyEventsSchema adds the columns newer than the first version of the
// events collection and reports whether it changed:
//
//   - accountRef: the account a merged guest went into;
//   - ip: the client IP of the request that converted, merged or deleted
//     the guest, so a merge of a guest session planted in someone's
//     browser can be traced (which guest, into which account, from where);
//   - reason: the conversion method or the deletion reason (auditReason),
//     so the stats view counts conversions by code and empty guests deleted.
func applyEventsSchema(c *core.Collection) bool {
	changed := false
	for _, name := range []string{"accountRef", "ip", "reason"} {
		if c.Fields.GetByName(name) == nil {
			c.Fields.Add(&core.TextField{Name: name})
			changed = true
		}
	}
	return changed
}

// persistEvent inserts the anonymousEvents row of a converted, merged or
// deleted guest through the query builder in app (the caller's transaction,
// so the row commits or rolls back with the change it records).
//
// Why not app.Save: it runs validation and the model hooks for a row nobody
// edits, inside transactions that hold SQLite's only write lock.
func persistEvent(app core.App, event string, record *core.Record, entry auditEntry) error {
	now := types.NowDateTime().String()
	_, err := app.DB().Insert(EventsCollection, dbx.Params{
		"id":               core.GenerateDefaultRandomId(),
		"event":            event,
		"collectionRef":    record.Collection().Id,
		"recordCollection": record.Collection().Name,
		"recordRef":        record.Id,
		"recordCreated":    record.GetDateTime("created").String(),
		"accountRef":       entry.accountRef,
		"ip":               entry.ip,
		"reason":           entry.reason,
		"created":          now,
	}).Execute()
	return err
}

// statsViewQuery builds the anonymousStats view: one row per collection.
//
// Columns: guests (live guests), active24h / active30d (lastSeen within),
// created24h / created30d, converted* (of which convertedByCode*: by an
// emailed code), merged*, deleted* (of which deletedEmpty*: owning nothing,
// by the early cleanup). Every count is
// CAST AS INTEGER so PocketBase types the view fields as numbers.
func statsViewQuery(collections []*core.Collection) string {
	if len(collections) == 0 {
		// A view needs a valid query even with nothing to count.
		return "SELECT CAST('' AS TEXT) AS id, CAST('' AS TEXT) AS collection, CAST(0 AS INTEGER) AS guests WHERE 0"
	}

	const (
		day   = "strftime('%Y-%m-%d %H:%M:%fZ', 'now', '-1 day')"
		month = "strftime('%Y-%m-%d %H:%M:%fZ', 'now', '-30 days')"
	)

	rows := make([]string, 0, len(collections))
	for _, c := range collections {
		table := quoteIdent(c.Name)
		id := quoteString(c.Id)
		guests := "SELECT COUNT(*) FROM " + table + " WHERE isAnonymous = 1"

		created := func(since string) string {
			live := "0"
			if c.Fields.GetByName("created") != nil {
				live = "(" + guests + " AND created >= " + since + ")"
			}
			ended := "(SELECT COUNT(DISTINCT ev.recordRef) FROM " + EventsCollection + " ev" +
				" WHERE ev.collectionRef = " + id + " AND ev.recordCreated >= " + since +
				" AND NOT EXISTS (SELECT 1 FROM " + table + " g WHERE g.id = ev.recordRef AND g.isAnonymous = 1))"
			return live + " + " + ended
		}
		events := func(event, since string) string {
			return "(SELECT COUNT(*) FROM " + EventsCollection +
				" WHERE collectionRef = " + id + " AND event = " + quoteString(event) + " AND created >= " + since + ")"
		}
		eventsFor := func(event, reason, since string) string {
			return "(SELECT COUNT(*) FROM " + EventsCollection +
				" WHERE collectionRef = " + id + " AND event = " + quoteString(event) +
				" AND created >= " + since + " AND reason = " + quoteString(reason) + ")"
		}

		rows = append(rows, "SELECT "+quoteString(c.Name)+" AS collection"+
			", ("+guests+") AS guests"+
			", ("+guests+" AND lastSeen >= "+day+") AS active24h"+
			", ("+guests+" AND lastSeen >= "+month+") AS active30d"+
			", "+created(day)+" AS created24h"+
			", "+created(month)+" AS created30d"+
			", "+events(AuditConverted, day)+" AS converted24h"+
			", "+events(AuditConverted, month)+" AS converted30d"+
			", "+eventsFor(AuditConverted, AuthMethodOTP, day)+" AS convertedByCode24h"+
			", "+eventsFor(AuditConverted, AuthMethodOTP, month)+" AS convertedByCode30d"+
			", "+events(AuditMerged, day)+" AS merged24h"+
			", "+events(AuditMerged, month)+" AS merged30d"+
			", "+events(AuditDeleted, day)+" AS deleted24h"+
			", "+events(AuditDeleted, month)+" AS deleted30d"+
			", "+eventsFor(AuditDeleted, ReasonEmpty, day)+" AS deletedEmpty24h"+
			", "+eventsFor(AuditDeleted, ReasonEmpty, month)+" AS deletedEmpty30d")
	}

	cols := []string{"guests", "active24h", "active30d", "created24h", "created30d",
		"converted24h", "converted30d", "convertedByCode24h", "convertedByCode30d",
		"merged24h", "merged30d", "deleted24h", "deleted30d", "deletedEmpty24h", "deletedEmpty30d"}
	var sb strings.Builder
	sb.WriteString("SELECT s.collection AS id, CAST(s.collection AS TEXT) AS collection")
	for _, col := range cols {
		sb.WriteString(", CAST(s." + col + " AS INTEGER) AS " + col)
	}
	sb.WriteString(" FROM (" + strings.Join(rows, " UNION ALL ") + ") s")
	return sb.String()
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
