package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// The cleanup row: a pb_data with N stale guests (created and last active
// 90 days ago), the server up and sign-ins at full load, and the operator's
// `pocketguest anonymous cleanup` run against the same pb_data while they
// go on. It reports how fast the stale guests go and what the sign-ins see
// meanwhile.

// staleAge is how old the seeded stale guests are; cleanupMaxAge is the
// cleanup's threshold (PocketGuest's default Config.MaxAge, 30 days).
const (
	staleAge      = 90 * 24 * time.Hour
	cleanupMaxAge = "720h"
)

func (b *bench) cleanup(ctx context.Context) error {
	c := &b.rep.cleanup
	c.guests = b.cfg.Cleanup
	if b.cfg.Cleanup <= 0 {
		c.unavailable = "skipped (-cleanup 0)"
		return nil
	}
	if !b.bin.cmds["anonymous"] {
		c.unavailable = "this pocketguest has no `anonymous cleanup` command yet"
		b.logf("cleanup row: not available: %s", c.unavailable)
		return nil
	}

	const name = "cleanup"
	d, err := b.dirs(name)
	if err != nil {
		return err
	}
	defer b.removeRun(name)

	b.logf("seeding %d stale guests", b.cfg.Cleanup)
	if c.seedTime, err = seedGuests(ctx, d.data, b.cfg.Cleanup, time.Now().Add(-staleAge)); err != nil {
		return err
	}

	s, err := startServer(ctx, b.bin, d)
	if err != nil {
		return err
	}
	defer s.stop()

	stop := make(chan struct{})
	loaded := make(chan stats, 1)
	go func() {
		loaded <- load{
			name: "signins-during-cleanup", target: target(s, http.MethodPost, endpointPath), check: checkAuthJSON,
			concurrency: b.cfg.Concurrency, duration: b.cfg.CleanupMax, stop: stop, serverCPU: s.cpuTime,
		}.run()
	}()

	// Let the sign-ins reach full speed before the cleanup starts.
	time.Sleep(b.cfg.Warmup)

	b.logf("cleanup row: `anonymous cleanup --max-age %s` while sign-ins run", cleanupMaxAge)
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CleanupMax)
	started := time.Now()
	out, cerr := b.bin.run(cctx, d.data, "anonymous", "cleanup", "--max-age", cleanupMaxAge)
	c.took = time.Since(started)
	cancel()
	close(stop)
	c.st = <-loaded
	c.output = strings.TrimSpace(string(out))
	if cerr != nil {
		c.failed = cerr.Error()
		b.logf("  cleanup failed: %v", cerr)
	}

	if err := s.stop(); err != nil {
		return err
	}
	left, err := countSeeded(ctx, d.data)
	if err != nil {
		return err
	}
	c.deleted = b.cfg.Cleanup - left
	c.ran = true
	b.logf("  deleted %d of %d stale guests in %s; sign-ins meanwhile: %s", c.deleted, c.guests, c.took.Round(time.Millisecond), c.st.summary())
	return nil
}

// countSeeded counts the seeded rows still in users.
func countSeeded(ctx context.Context, dataDir string) (int, error) {
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "users" WHERE "id" LIKE 'zzseed%'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count seeded guests: %w", err)
	}
	return n, nil
}
