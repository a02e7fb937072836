package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"
)

// The cleanup row: a pb_data with N stale guests (created and last seen 90
// days ago), the server up and sign-ins at full load, and the server's own
// cleanup job (the "anonymousCleanup" cron job, which deletes guests
// inactive for longer than --anonMaxAge, 30 days by default) started on
// demand through PocketBase's crons API (POST /api/crons/{id}, superuser).
// It runs inside the server, as it does in production every hour, and the
// bench watches the seeded rows disappear through a read-only connection.
//
// The operator CLI (`pocketguest anonymous cleanup`) runs the same code in
// a second process; the bench does not use it because two processes
// writing one SQLite file under full load measure SQLite's busy handler,
// not the cleanup (see BENCHMARKS.md).

const (
	staleAge     = 90 * 24 * time.Hour
	cleanupJobId = "anonymousCleanup"
)

func (b *bench) cleanup(ctx context.Context) error {
	c := &b.rep.cleanup
	c.guests = b.cfg.Cleanup
	if b.cfg.Cleanup <= 0 {
		c.unavailable = "skipped (-cleanup 0)"
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

	watched, err := b.cleanupUnderLoad(ctx, s, d, c.guests, countSeededIn)
	if err != nil {
		return err
	}
	if watched.unavailable != "" {
		c.unavailable = watched.unavailable
		b.logf("cleanup row: not available: %s", c.unavailable)
		return nil
	}
	c.took, c.st, c.deleted, c.failed, c.ran = watched.took, watched.st, watched.deleted, watched.failed, true
	b.logf("  deleted %d of %d stale guests in %s; sign-ins meanwhile: %s", c.deleted, c.guests, c.took.Round(time.Millisecond), c.st.summary())
	return nil
}

// watchedCleanup is what cleanupUnderLoad saw.
type watchedCleanup struct {
	unavailable string // the binary has no cleanup job
	took        time.Duration
	deleted     int
	failed      string
	st          stats // the sign-ins meanwhile
}

// cleanupUnderLoad runs sign-ins at full load on s, starts the server's
// cleanup job through the crons API once they are at speed, and watches
// left(db) (the rows the job should delete, out of want) fall to zero or
// -cleanup-max pass.
func (b *bench) cleanupUnderLoad(ctx context.Context, s *server, d serverDirs, want int, left func(context.Context, *sql.DB) (int, error)) (watchedCleanup, error) {
	var w watchedCleanup
	token, err := superuserToken(s)
	if err != nil {
		return w, err
	}
	if ok, err := hasCronJob(s, token, cleanupJobId); err != nil {
		return w, err
	} else if !ok {
		w.unavailable = "this pocketguest has no " + cleanupJobId + " cron job"
		return w, nil
	}

	db, err := sql.Open("sqlite", filepath.Join(d.data, "data.db")+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return w, err
	}
	defer db.Close()

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

	b.logf("  POST /api/crons/%s while sign-ins run", cleanupJobId)
	started := time.Now()
	if err := runCronJob(s, token, cleanupJobId); err != nil {
		close(stop)
		<-loaded
		return w, err
	}

	remaining := want
	deadline := started.Add(b.cfg.CleanupMax)
	for remaining > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if remaining, err = left(ctx, db); err != nil {
			break
		}
	}
	w.took = time.Since(started)
	close(stop)
	w.st = <-loaded
	if err != nil {
		return w, err
	}
	if remaining == want {
		w.failed = fmt.Sprintf("no guest deleted within %s", b.cfg.CleanupMax)
	}
	w.deleted = want - remaining
	return w, nil
}

// superuserToken signs the bench's superuser in (one bcrypt check).
func superuserToken(s *server) (string, error) {
	body, _ := json.Marshal(map[string]string{"identity": benchSuperuserEmail, "password": benchSuperuserPassword})
	code, resp, err := request(s, http.MethodPost, "/api/collections/_superusers/auth-with-password", "", body)
	if err != nil {
		return "", err
	}
	var auth struct {
		Token string `json:"token"`
	}
	if code != http.StatusOK || json.Unmarshal(resp, &auth) != nil || auth.Token == "" {
		return "", fmt.Errorf("superuser sign-in: status %d: %.200s", code, resp)
	}
	return auth.Token, nil
}

func hasCronJob(s *server, token, id string) (bool, error) {
	code, resp, err := request(s, http.MethodGet, "/api/crons", token, nil)
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("GET /api/crons: status %d: %.200s", code, resp)
	}
	return bytes.Contains(resp, []byte(`"id":"`+id+`"`)), nil
}

func runCronJob(s *server, token, id string) error {
	code, resp, err := request(s, http.MethodPost, "/api/crons/"+id, token, nil)
	if err != nil {
		return err
	}
	if code != http.StatusNoContent {
		return fmt.Errorf("POST /api/crons/%s: status %d: %.200s", id, code, resp)
	}
	return nil
}

func request(s *server, method, path, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, s.url(path), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	client := &http.Client{Transport: newTransport(1), Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, err
}

// countSeeded counts the seeded rows still in users (ids "zzseed…", a
// primary-key range scan).
func countSeeded(ctx context.Context, dataDir string) (int, error) {
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return countSeededIn(ctx, db)
}

func countSeededIn(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "users" WHERE "id" >= 'zzseed' AND "id" < 'zzseee'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count seeded guests: %w", err)
	}
	return n, nil
}
