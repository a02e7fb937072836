package anonauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketguest/pocketguest/anonauth"
)

// TestCleanupUnderLoad deletes N stale guests with the cleanup while
// sign-ins keep coming, and reports both rates and the sign-in latency
// against a baseline without cleanup. The default suite runs N = 500;
// the figures in docs/lifecycle.md come from N = 100,000:
//
//	POCKETGUEST_CLEANUP_LOAD=100000 go test ./anonauth -run TestCleanupUnderLoad -v
//
// POCKETGUEST_CLEANUP_BATCH overrides the batch size (default 50).
func TestCleanupUnderLoad(t *testing.T) {
	n := envInt(t, "POCKETGUEST_CLEANUP_LOAD", 500)
	batch := envInt(t, "POCKETGUEST_CLEANUP_BATCH", 0)
	const signInClients = 4

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir()})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	defer app.ResetBootstrapState()
	p := anonauth.MustRegister(app, anonauth.Config{RateLimit: -1, CleanupBatchSize: batch})
	h := appHandler(t, app)

	seedStaleGuests(t, app, n, 40*day)

	// Sign-ins from signInClients goroutines until stop; latencies recorded.
	load := func(stop <-chan struct{}) (count int64, lat []time.Duration, errs int64) {
		var (
			mu  sync.Mutex
			wg  sync.WaitGroup
			cnt atomic.Int64
			bad atomic.Int64
		)
		for c := 0; c < signInClients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				var local []time.Duration
				for {
					select {
					case <-stop:
						mu.Lock()
						lat = append(lat, local...)
						mu.Unlock()
						return
					default:
					}
					req := httptest.NewRequest(http.MethodPost, signInURL, nil)
					req.RemoteAddr = "198.51.100." + strconv.Itoa(c) + ":1000"
					rec := httptest.NewRecorder()
					start := time.Now()
					h.ServeHTTP(rec, req)
					local = append(local, time.Since(start))
					if rec.Code != http.StatusOK {
						bad.Add(1)
					} else {
						cnt.Add(1)
					}
				}
			}(c)
		}
		wg.Wait()
		return cnt.Load(), lat, bad.Load()
	}

	// Baseline: sign-ins alone.
	baseDur := 500 * time.Millisecond
	if n >= 10_000 {
		baseDur = 2 * time.Second
	}
	stop := make(chan struct{})
	time.AfterFunc(baseDur, func() { close(stop) })
	baseCount, baseLat, baseErrs := load(stop)

	// Cleanup with sign-ins running.
	stop = make(chan struct{})
	type loadResult struct {
		count int64
		lat   []time.Duration
		errs  int64
	}
	done := make(chan loadResult)
	go func() {
		c, l, e := load(stop)
		done <- loadResult{c, l, e}
	}()
	time.Sleep(100 * time.Millisecond) // load running first
	start := time.Now()
	lastTick, lastDone := start, 0
	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{
		Progress: func(pr anonauth.CleanupProgress) {
			// The rate per tenth of the run: does it hold up as the run goes?
			if done := pr.Deleted + pr.Skipped; done-lastDone >= n/10 || (done == n && done > lastDone) {
				wal := int64(0)
				if fi, err := os.Stat(app.DataDir() + "/data.db-wal"); err == nil {
					wal = fi.Size()
				}
				t.Logf("  %3d%%: %.0f deletions/s, WAL %d MB", done*100/n, float64(done-lastDone)/time.Since(lastTick).Seconds(), wal>>20)
				lastTick, lastDone = time.Now(), done
			}
		},
	})
	elapsed := time.Since(start)
	close(stop)
	during := <-done
	if err != nil {
		t.Fatal(err)
	}

	if res.Found != n || res.Deleted != n || res.Skipped != 0 {
		t.Fatalf("want %d found and deleted, got %+v", n, res)
	}
	if baseErrs+during.errs > 0 {
		t.Fatalf("%d sign-ins failed", baseErrs+during.errs)
	}
	guests, _ := app.CountRecords("users")
	if int64(guests) != baseCount+during.count {
		t.Fatalf("the guests created meanwhile must all survive: %d, want %d", guests, baseCount+during.count)
	}

	t.Logf("cleanup: %d stale guests deleted in %s = %.0f deletions/s (batch %d, longest batch transaction %s)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), p.Config().CleanupBatchSize, res.LongestBatch.Round(10*time.Microsecond))
	t.Logf("sign-ins alone:        %.0f/s, p50 %s, p99 %s, max %s",
		float64(baseCount)/baseDur.Seconds(), pct(baseLat, 50), pct(baseLat, 99), pct(baseLat, 100))
	t.Logf("sign-ins during cleanup: %.0f/s, p50 %s, p99 %s, max %s",
		float64(during.count)/(elapsed.Seconds()+0.1), pct(during.lat, 50), pct(during.lat, 99), pct(during.lat, 100))
}

func envInt(t testing.TB, name string, fallback int) int {
	v := os.Getenv(name)
	if v == "" {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i].Round(10 * time.Microsecond)
}

// seedStaleGuests inserts n guest rows idle for age, in one statement (far
// faster than n sign-ins; the rows are what CreateGuest writes).
func seedStaleGuests(t testing.TB, app core.App, n int, age time.Duration) {
	t.Helper()
	seen, _ := types.ParseDateTime(time.Now().Add(-age))
	_, err := app.DB().NewQuery(`
		WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {:n}),
		ids(id) AS (SELECT substr(lower(hex(randomblob(8))), 1, 15) FROM seq)
		INSERT INTO users (id, email, tokenKey, password, isAnonymous, lastSeen, created, updated)
		SELECT id, 'anonymous-' || id || '@example.com', hex(randomblob(25)), '!anonymous:seed', 1, {:seen}, {:seen}, {:seen}
		FROM ids`).Bind(map[string]any{"n": n, "seen": seen.String()}).Execute()
	if err != nil {
		t.Fatal(err)
	}
}

func appHandler(t testing.TB, app core.App) http.Handler {
	t.Helper()
	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	se := &core.ServeEvent{App: app, Router: r}
	if err := app.OnServe().Trigger(se, func(e *core.ServeEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mux, err := r.BuildMux()
	if err != nil {
		t.Fatal(err)
	}
	return mux
}
