package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// The empty-guests row (--anonEmptyMaxAge): N guests last seen 2 days ago,
// inside --anonMaxAge (30 days) but past --anonEmptyMaxAge (24 h), every
// second one owning a cart line (carts.owner, a single relation to users,
// created by fixtures/empty_migrations; anonauth gives it its owner index).
// Half of them own nothing and are the cleanup's to delete.
//
//  1. The decision alone: `pocketguest anonymous cleanup --dry-run` (the
//     server stopped) counts the empty guests among all N, one NOT EXISTS
//     index probe per guest, and the same dry run without the early pass
//     (--empty-max-age 0) counts the same range without the probes.
//  2. The deletion: the server's cleanup job under full sign-in load, as in
//     the cleanup row, until every empty guest is gone or -cleanup-max.

const emptyIdle = 48 * time.Hour

type emptyRow struct {
	guests      int
	unavailable string
	ran         bool
	seedTime    time.Duration
	owned       int           // guests with a cart line
	found       int           // empty guests the dry run counted
	decide      time.Duration // the dry run with the owns-nothing check
	bare        time.Duration // the dry run without it
	watched     watchedCleanup
}

func (b *bench) emptyCleanup(ctx context.Context) error {
	e := &b.rep.empty
	e.guests = b.cfg.EmptyGuests
	if e.guests <= 0 {
		e.unavailable = "skipped (-empty 0)"
		return nil
	}
	if !b.bin.flags["anonEmptyMaxAge"] {
		e.unavailable = "this pocketguest has no --anonEmptyMaxAge"
		return nil
	}

	const name = "empty-cleanup"
	d, err := b.dirs(name)
	if err != nil {
		return err
	}
	defer b.removeRun(name)
	d.migrations = filepath.Join(b.fixtures, "empty_migrations")

	// Serve once: the migration creates carts (and anonauth its index).
	s, err := startServer(ctx, b.bin, d)
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}

	b.logf("empty row: seeding %d guests idle for %s, every second one with a cart line", e.guests, emptyIdle)
	started := time.Now()
	if _, err := seedGuests(ctx, d.data, e.guests, time.Now().Add(-emptyIdle)); err != nil {
		return err
	}
	owned, err := seedCarts(ctx, d.data)
	if err != nil {
		return err
	}
	e.owned = owned
	e.seedTime = time.Since(started)

	dry := func(emptyMaxAge string) (int, time.Duration, error) {
		started := time.Now()
		out, err := b.bin.run(ctx, d.data, "anonymous", "cleanup", "--dry-run", "--empty-max-age", emptyMaxAge)
		took := time.Since(started)
		if err != nil {
			return 0, took, err
		}
		m := regexp.MustCompile(`found (\d+)`).FindSubmatch(out)
		if m == nil {
			return 0, took, fmt.Errorf("unexpected dry-run output: %s", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n, took, nil
	}
	if e.found, e.decide, err = dry("24h"); err != nil {
		return err
	}
	if _, e.bare, err = dry("0"); err != nil {
		return err
	}
	b.logf("  dry run: %d empty of %d in %s (without the check: %s)", e.found, e.guests, e.decide.Round(time.Millisecond), e.bare.Round(time.Millisecond))

	s, err = startServer(ctx, b.bin, d)
	if err != nil {
		return err
	}
	defer s.stop()
	empty := e.guests - owned
	left := func(ctx context.Context, db *sql.DB) (int, error) {
		n, err := countSeededIn(ctx, db)
		return n - owned, err // guests with a cart line are never deleted
	}
	e.watched, err = b.cleanupUnderLoad(ctx, s, d, empty, left)
	if err != nil {
		return err
	}
	if e.watched.unavailable != "" {
		e.unavailable = e.watched.unavailable
		return nil
	}
	e.ran = true
	b.logf("  deleted %d of %d empty guests in %s; sign-ins meanwhile: %s", e.watched.deleted, empty, e.watched.took.Round(time.Millisecond), e.watched.st.summary())
	return nil
}

// seedCarts gives every second seeded guest one cart line and returns how
// many guests own one.
func seedCarts(ctx context.Context, dataDir string) (int, error) {
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, `
		INSERT INTO "carts" ("id", "owner", "created", "updated")
		SELECT 'cart' || substr("id", 7) || 'xx', "id", "created", "updated" FROM "users"
		WHERE "id" >= 'zzseed' AND "id" < 'zzseee' AND CAST(substr("id", 7) AS INTEGER) % 2 = 0`)
	if err != nil {
		return 0, fmt.Errorf("seeding cart lines: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
