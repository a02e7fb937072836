package anonauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// cleanupJobId is the id of the cron job (app.Cron().Remove(cleanupJobId)
// turns it off at runtime).
const cleanupJobId = "anonymousCleanup"

// eventsRetention is how long anonymousEvents rows are kept. The stats view
// reads 30 days; the rest is a margin for operators reading the audit.
const eventsRetention = 90 * 24 * time.Hour

// CleanupOptions are the options of Plugin.Cleanup.
type CleanupOptions struct {
	// MaxAge: guests whose last activity is older are deleted.
	//
	// If zero it falls back to Config.MaxAge; the result must be positive.
	MaxAge time.Duration

	// EmptyMaxAge: guests that own nothing (see emptyguests.go) and whose
	// last activity is older are deleted too.
	//
	// If zero it falls back to Config.EmptyMaxAge; a negative value skips
	// the empty guests (only MaxAge applies).
	EmptyMaxAge time.Duration

	// BatchSize is how many guests one transaction deletes.
	//
	// If zero it falls back to Config.CleanupBatchSize.
	BatchSize int

	// DryRun only counts the stale guests; nothing is written.
	DryRun bool

	// Collections limits the run to these enabled collections.
	//
	// If empty, every enabled collection is cleaned.
	Collections []string

	// Progress, if set, is called after the count and after every batch
	// with the running totals (for a progress display).
	Progress func(CleanupProgress)
}

// CleanupProgress is the running state of a cleanup, per collection.
type CleanupProgress struct {
	Collection string
	Reason     string // which pass: ReasonCleanup (MaxAge) or ReasonEmpty (EmptyMaxAge)
	Found      int    // stale guests counted before the collection's run
	Deleted    int
	Skipped    int // converted, active or deleted meanwhile, or failed

	// LongestBatch is the longest one batch transaction held the write
	// lock (begin to commit): the most a sign-in waits for the cleanup.
	LongestBatch time.Duration
}

// CleanupResult is the summary of a cleanup run (all collections).
type CleanupResult struct {
	Found   int `json:"found"`
	Deleted int `json:"deleted"`
	Skipped int `json:"skipped"`

	// DeletedEmpty is how many of Deleted owned nothing and went by
	// EmptyMaxAge (reason "empty").
	DeletedEmpty int           `json:"deletedEmpty"`
	DryRun       bool          `json:"dryRun"`
	Elapsed      time.Duration `json:"elapsed"`

	// LongestBatch is the longest one batch transaction held the write lock.
	LongestBatch time.Duration `json:"longestBatch"`
}

// registerCleanup schedules the cleanup job (it runs under serve only, as
// every PocketBase cron job). It is off when both Config.MaxAge and
// Config.EmptyMaxAge are disabled.
func (p *Plugin) registerCleanup() error {
	if p.config.MaxAge < 0 && p.config.EmptyMaxAge < 0 {
		return nil
	}
	return p.app.Cron().Add(cleanupJobId, p.config.CleanupSchedule, func() {
		if !p.cleaning.TryLock() {
			return // the previous run (or a Cleanup call) is still going
		}
		defer p.cleaning.Unlock()

		res, err := p.cleanup(context.Background(), CleanupOptions{})
		if err != nil {
			p.app.Logger().Error("anonauth: guest cleanup failed", "error", err,
				"found", res.Found, "deleted", res.Deleted, "skipped", res.Skipped)
		} else if res.Found > 0 {
			p.app.Logger().Info("anonauth: guest cleanup",
				"found", res.Found, "deleted", res.Deleted, "skipped", res.Skipped,
				"elapsed", res.Elapsed.String())
		}
		if err := pruneEvents(p.app, time.Now().Add(-eventsRetention)); err != nil {
			p.app.Logger().Error("anonauth: failed to prune old anonymousEvents", "error", err)
		}
	})
}

// Cleanup deletes the guests whose last activity (lastSeen) is older than
// the max age, in batches of BatchSize, each in its own transaction and
// followed by a rest as long as the batch took: the cleanup holds SQLite's
// write lock at most about half the time and one batch at a time, so
// sign-ins wait milliseconds, never for the whole run. Safe while the server
// serves, from the same process or another (the CLI).
//
// Inside each transaction every guest is read again and skipped unless it is
// still anonymous, still stale and has no unwritten activity: a guest
// upgraded, merged or active since it was listed is never deleted. Deletion
// goes through app.Delete, so PocketBase's cascades (relations, external
// auths, MFA, OTP rows) and the app's delete hooks run as for any delete,
// and each deletion is audited (anonymous.deleted, with the guest's age).
// A batch that fails is retried one guest per transaction, so one guest a
// hook refuses to delete is skipped (and logged) without stopping the run.
//
// Only one Cleanup runs at a time in a process; the cron job skips its turn
// while one is running.
func (p *Plugin) Cleanup(ctx context.Context, opts CleanupOptions) (CleanupResult, error) {
	p.cleaning.Lock()
	defer p.cleaning.Unlock()
	return p.cleanup(ctx, opts)
}

// cleanup is Cleanup with p.cleaning held by the caller.
func (p *Plugin) cleanup(ctx context.Context, opts CleanupOptions) (CleanupResult, error) {
	start := time.Now()
	res := CleanupResult{DryRun: opts.DryRun}

	if opts.MaxAge == 0 {
		opts.MaxAge = p.config.MaxAge
	}
	if opts.EmptyMaxAge == 0 {
		opts.EmptyMaxAge = p.config.EmptyMaxAge
	}
	if opts.MaxAge > 0 && opts.EmptyMaxAge >= opts.MaxAge {
		opts.EmptyMaxAge = -1 // the MaxAge pass deletes them all anyway
	}
	if opts.MaxAge <= 0 && opts.EmptyMaxAge <= 0 {
		return res, errors.New("anonauth: cleanup needs a positive max age (Config.MaxAge and Config.EmptyMaxAge are disabled)")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = p.config.CleanupBatchSize
	}
	names := opts.Collections
	if len(names) == 0 {
		names = p.config.Collections
	}
	for _, name := range names {
		if !p.IsEnabled(name) {
			return res, fmt.Errorf("anonauth: anonymous sign-in is not enabled for collection %q", name)
		}
	}

	// Write the noted activity first, so lastSeen is current for the guests
	// this process has seen.
	if err := p.FlushActivity(); err != nil {
		return res, fmt.Errorf("anonauth: failed to flush guest activity: %w", err)
	}

	now := types.NowDateTime()
	for _, name := range names {
		collection, err := p.app.FindCollectionByNameOrId(name)
		if err != nil || collection.Fields.GetByName(FieldLastSeen) == nil {
			continue // not created yet, or the schema is not ensured yet
		}

		// The MaxAge pass first (every stale guest), then the guests that
		// own nothing, inactive for the shorter EmptyMaxAge.
		var passes []cleanupPass
		if opts.MaxAge > 0 {
			passes = append(passes, cleanupPass{reason: ReasonCleanup, cutoff: now.Add(-opts.MaxAge)})
		}
		if opts.EmptyMaxAge > 0 {
			refs, err := ownerRefs(p.app, collection)
			if err != nil {
				res.Elapsed = time.Since(start)
				return res, err
			}
			empty := cleanupPass{reason: ReasonEmpty, cutoff: now.Add(-opts.EmptyMaxAge), owners: refs}
			if opts.MaxAge > 0 {
				empty.newerThan = now.Add(-opts.MaxAge) // older ones are the MaxAge pass's (a dry run counts each guest once)
			}
			passes = append(passes, empty)
		}

		for _, pass := range passes {
			pr, err := p.cleanupCollection(ctx, collection, pass, opts)
			res.Found += pr.Found
			res.Deleted += pr.Deleted
			res.Skipped += pr.Skipped
			if pass.reason == ReasonEmpty {
				res.DeletedEmpty += pr.Deleted
			}
			res.LongestBatch = max(res.LongestBatch, pr.LongestBatch)
			if err != nil {
				res.Elapsed = time.Since(start)
				return res, err
			}
		}
	}

	res.Elapsed = time.Since(start)
	return res, nil
}

// cleanupPass is one kind of deletion of a cleanup run.
type cleanupPass struct {
	reason string         // ReasonCleanup or ReasonEmpty (the audit reason)
	cutoff types.DateTime // guests last seen before it are deleted...
	owners []ownerRef     // ...if, for ReasonEmpty, no record references them

	newerThan types.DateTime // if set, only guests last seen at or after it
}

// Audit reasons of the cleanup's deletions.
const (
	ReasonCleanup = "cleanup" // inactive for MaxAge
	ReasonEmpty   = "empty"   // owning nothing, inactive for EmptyMaxAge
)

func (p *Plugin) cleanupCollection(ctx context.Context, collection *core.Collection, pass cleanupPass, opts CleanupOptions) (CleanupProgress, error) {
	pr := CleanupProgress{Collection: collection.Name, Reason: pass.reason}
	cutoff := pass.cutoff
	report := func() {
		if opts.Progress != nil {
			opts.Progress(pr)
		}
	}

	stale := dbx.And(
		dbx.NewExp(guestWhere),
		dbx.NewExp("[["+FieldLastSeen+"]] > ''"), // no lastSeen: age unknown, never deleted
		dbx.NewExp("[["+FieldLastSeen+"]] < {:cutoff}", dbx.Params{"cutoff": cutoff.String()}),
	)
	if !pass.newerThan.IsZero() {
		stale = dbx.And(stale, dbx.NewExp("[["+FieldLastSeen+"]] >= {:newerThan}", dbx.Params{"newerThan": pass.newerThan.String()}))
	}
	if pass.reason == ReasonEmpty {
		stale = dbx.And(stale, ownsNothing(collection, pass.owners))
	}

	// The count reads the partial index only (the concurrent, read pool).
	var found int
	if err := p.app.ConcurrentDB().Select("COUNT(*)").From(collection.Name).Where(stale).Row(&found); err != nil {
		return pr, err
	}
	pr.Found = found
	report()
	if opts.DryRun || found == 0 {
		return pr, nil
	}

	// Keyset pagination on (lastSeen, id), the partial index's order: a
	// skipped guest is never listed twice, and each page is an index range.
	type row struct {
		Id       string `db:"id"`
		LastSeen string `db:"lastSeen"`
	}
	after := row{}
	for {
		if err := ctx.Err(); err != nil {
			return pr, err
		}

		var rows []row
		err := p.app.ConcurrentDB().Select("id", FieldLastSeen).From(collection.Name).
			Where(stale).
			AndWhere(dbx.NewExp("([["+FieldLastSeen+"]], [[id]]) > ({:afterSeen}, {:afterId})",
				dbx.Params{"afterSeen": after.LastSeen, "afterId": after.Id})).
			OrderBy(FieldLastSeen, "id").
			Limit(int64(opts.BatchSize)).
			All(&rows)
		if err != nil {
			return pr, err
		}
		if len(rows) == 0 {
			return pr, nil
		}
		after = rows[len(rows)-1]

		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.Id
		}

		batchStart := time.Now()
		deleted, skipped, held, err := p.deleteStale(collection, ids, pass)
		pr.LongestBatch = max(pr.LongestBatch, held)
		if err != nil {
			// Something in the batch failed (a hook, a relation): retry the
			// guests one per transaction so only the failing one is skipped.
			deleted, skipped = 0, 0
			for _, id := range ids {
				d, s, held, err := p.deleteStale(collection, []string{id}, pass)
				pr.LongestBatch = max(pr.LongestBatch, held)
				if err != nil {
					p.app.Logger().Error("anonauth: failed to delete a stale guest",
						"recordId", id, "collection", collection.Name, "error", err)
					s = 1
				}
				deleted += d
				skipped += s
			}
		}
		pr.Deleted += deleted
		pr.Skipped += skipped
		report()

		// Rest as long as the batch held the write lock. database/sql hands
		// the freed connection to a random waiter, so without a pause the
		// cleanup's next batch competes with waiting sign-ins on equal terms
		// and, holding the lock longer each time, takes most of it. With the
		// pause it takes at most half, and sign-ins never wait for more
		// than one batch (see docs/lifecycle.md, "Cleanup under load").
		time.Sleep(time.Since(batchStart))
	}
}

// deleteStale deletes, in one transaction, those of ids that are still
// stale guests (and, for the empty pass, still own nothing). It returns how
// many were deleted and skipped, and how long the transaction held the
// write lock.
func (p *Plugin) deleteStale(collection *core.Collection, ids []string, pass cleanupPass) (deleted, skipped int, held time.Duration, err error) {
	cutoff := pass.cutoff
	type gone struct {
		record *core.Record
		age    time.Duration
	}
	var done []gone
	now := time.Now()
	var begun time.Time

	err = p.app.RunInTransaction(func(txApp core.App) error {
		if err := lockForWrite(txApp, collection.Name); err != nil {
			return err
		}
		begun = time.Now() // the write connection is ours from here
		done = done[:0]
		skipped = 0
		var empty map[string]bool
		if pass.reason == ReasonEmpty {
			// Under the write lock: a record written since the guests were
			// listed is seen here, and none can be written after (the
			// relation guard, relguard.go, refuses a deleted owner).
			var err error
			if empty, err = stillEmpty(txApp, collection, pass.owners, ids); err != nil {
				return err
			}
		}
		for _, id := range ids {
			record, err := txApp.FindRecordById(collection, id)
			if err != nil {
				skipped++ // deleted meanwhile (merged, self-deleted, another cleanup)
				continue
			}
			lastSeen := record.GetDateTime(FieldLastSeen)
			if !IsAnonymous(record) || lastSeen.IsZero() || !lastSeen.Before(cutoff) ||
				p.activity.isPending(collection.Id, record.Id) {
				skipped++ // converted or active since it was listed
				continue
			}
			if empty != nil && !empty[record.Id] {
				skipped++ // owns something now: MaxAge applies
				continue
			}
			if err := txApp.Delete(record); err != nil {
				return fmt.Errorf("failed to delete guest %q: %w", record.Id, err)
			}
			done = append(done, gone{record, now.Sub(lastSeen.Time()).Round(time.Second)})
		}
		// The event rows commit with the deletes; the log lines follow the
		// commit (see auditLog), so a batch that rolls back logs nothing.
		for _, g := range done {
			p.auditPersist(txApp, AuditDeleted, g.record, auditEntry{reason: pass.reason})
		}
		return nil
	})
	if !begun.IsZero() {
		held = time.Since(begun)
	}
	if err != nil {
		return 0, 0, held, err
	}
	for _, g := range done {
		p.auditLog(p.app, AuditDeleted, g.record,
			"reason", pass.reason,
			"age", g.age.String(),
			"lastSeen", g.record.GetDateTime(FieldLastSeen).String(),
		)
	}
	return len(done), skipped, held, nil
}

// pruneEvents deletes anonymousEvents rows older than before, a thousand per
// transaction.
func pruneEvents(app core.App, before time.Time) error {
	dt, err := types.ParseDateTime(before)
	if err != nil {
		return err
	}
	for {
		res, err := app.DB().NewQuery("DELETE FROM {{" + EventsCollection + "}} WHERE [[id]] IN (" +
			"SELECT [[id]] FROM {{" + EventsCollection + "}} WHERE [[created]] < {:before} LIMIT 1000)").
			Bind(dbx.Params{"before": dt.String()}).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n < 1000 {
			return nil
		}
	}
}
