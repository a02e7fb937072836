package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pocketguest/pocketguest/internal/devserver"
	"github.com/pocketguest/pocketguest/replicate"
)

// TestReplicationKillRestore is the disk-loss harness of the replicate
// plugin, once against a file replica and once against an in-process S3
// (gofakes3). Each iteration starts the real binary on a NEW, empty pb_data
// with --replicate and --restoreIfMissing (so every start after the first
// is a restore onto a fresh machine), drives sign-ins, carts, orders,
// upgrades and merges from concurrent clients, SIGKILLs the server at a
// random moment and throws its pb_data away. Then it restores the replica
// into another empty folder (replicate.Restore, the code behind the flag)
// and checks:
//
//   - PRAGMA integrity_check is "ok"; no half-converted user; no cart or
//     order owned by a user that does not exist;
//   - every write acknowledged before the start of a completed
//     POST /api/replication/sync (a sync barrier, called once at a random
//     moment of each iteration) is there: a timestamp comparison in the
//     test's own clock, no assumption about how fast the machine is;
//   - the restored state is a prefix of what was acknowledged: when a write
//     is lost, no write sent after its acknowledgement survived;
//   - the next start's own restore (the binary with --restoreIfMissing)
//     holds exactly the same users, carts and orders.
//
// Writes acknowledged but lost are counted with their age at the kill (kill
// time minus acknowledgement time): the loss window, logged as max and p99
// (RELIABILITY.md). A few iterations also SIGKILL the server during its
// start-up restore and start it again on the same folder.
//
// POCKETGUEST_REPLICATION_KILLS sets the kills per backend (default 4),
// POCKETGUEST_RELIABILITY_SEED the random seed.
func TestReplicationKillRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("replication harness: not in -short")
	}
	kills := envInt("POCKETGUEST_REPLICATION_KILLS", 4)
	seed := uint64(envInt("POCKETGUEST_RELIABILITY_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("seed %d (POCKETGUEST_RELIABILITY_SEED=%d replays it), %d kills per backend", seed, seed, kills)

	// The S3 fake accepts any credentials; the server and the in-test
	// restore read them from the environment like in production.
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	// Litestream's S3 client brings its own http.Client, which the AWS SDK
	// cannot give a custom CA bundle: with AWS_CA_BUNDLE set (as on some CI
	// machines) it refuses to start. Not needed for a plain-HTTP fake.
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")

	var all lossStats
	t.Run("file", func(t *testing.T) {
		url := "file://" + filepath.Join(t.TempDir(), "replica")
		all.merge(runReplicationKills(t, url, kills, seed))
	})
	t.Run("s3", func(t *testing.T) {
		backend := s3mem.New()
		if err := backend.CreateBucket("pocketguest"); err != nil {
			t.Fatal(err)
		}
		fake := httptest.NewServer(gofakes3.New(backend).Server())
		t.Cleanup(fake.Close)
		url := "s3://pocketguest/prod?endpoint=" + fake.URL + "&region=us-east-1&forcePathStyle=true"
		all.merge(runReplicationKills(t, url, kills, seed+1))
	})
	t.Logf("all backends: %s", all.summary())
}

// lossStats collects the age at the kill of acknowledged writes that the
// restore did not bring back.
type lossStats struct {
	kills, acked, lost int
	ages               []time.Duration
}

func (s *lossStats) merge(o lossStats) {
	s.kills += o.kills
	s.acked += o.acked
	s.lost += o.lost
	s.ages = append(s.ages, o.ages...)
}

func (s *lossStats) summary() string {
	if len(s.ages) == 0 {
		return fmt.Sprintf("%d kills, %d acknowledged writes, none lost", s.kills, s.acked)
	}
	ages := slices.Clone(s.ages)
	slices.Sort(ages)
	p99 := ages[min(len(ages)-1, (len(ages)*99+99)/100-1)]
	over := func(d time.Duration) int {
		return len(ages) - sort.Search(len(ages), func(i int) bool { return ages[i] > d })
	}
	return fmt.Sprintf("%d kills, %d acknowledged writes, %d lost: age at the kill max %s, p99 %s, median %s; %d lost writes older than 1s, %d older than 2s",
		s.kills, s.acked, s.lost, ages[len(ages)-1].Round(time.Millisecond), p99.Round(time.Millisecond),
		ages[len(ages)/2].Round(time.Millisecond), over(time.Second), over(2*time.Second))
}

// ackedWrite is one acknowledged request and how to see it in a restored
// database. Every predicate is monotonic: once true in the server's
// history it stays true (the workload never deletes).
type ackedWrite struct {
	what          string
	sentAt, ackAt time.Time
	present       func(st *restoredState) bool
}

// replGuest is a guest owned by one client at a time (so its requests are
// sequential and each acknowledgement is unambiguous).
type replGuest struct{ id, token string }

const (
	replSuperuser = "replication-test@example.com"
	replPassword  = "replication-password-1234"
)

func runReplicationKills(t *testing.T, url string, kills int, seed uint64) lossStats {
	rng := rand.New(rand.NewPCG(seed, 0x1e57))
	base := newWorkspace(t)
	var stats lossStats
	var accounts []account
	var live []*replGuest // anonymous in the last restored state
	var prev *restoredState

	// The superuser (sync barrier) is created in the first pb_data and
	// travels with the replica like everything else.
	first := *base
	first.data = filepath.Join(base.dir, "pb_data_0")
	if out, err := runCLI(&first, "superuser", "upsert", replSuperuser, replPassword); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, out)
	}

	for it := 0; it < kills; it++ {
		ws := *base
		ws.data = filepath.Join(base.dir, fmt.Sprintf("pb_data_%d", it))
		args := []string{"--replicate=" + url}
		if it > 0 {
			args = append(args, "--restoreIfMissing")
		}

		// Now and then a kill during the start-up restore; the retry on the
		// same folder must succeed.
		if it > 0 && rng.IntN(4) == 0 {
			s := start(t, &ws, args...)
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			s.kill()
		}
		s := startHealthy(t, &ws, args...)
		if prev != nil {
			got := readState(t, &ws)
			if !sameState(prev, got) {
				t.Fatalf("iteration %d: the binary's --restoreIfMissing restored %d users/%d carts/%d orders, the replica restore had %d/%d/%d",
					it, len(got.users), len(got.carts), len(got.orders), len(prev.users), len(prev.carts), len(prev.orders))
			}
		}

		su := superuserToken(t, s)
		if len(accounts) == 0 {
			m := newModel()
			m.createAccounts(t, s, 3)
			accounts = m.accounts
			// The accounts exist before any kill.
			if res := s.call(http.MethodPost, "/api/replication/sync", su, nil); res.status != http.StatusOK {
				t.Fatalf("sync barrier: %d %s %v\n%s", res.status, res.body, res.err, s.log.Tail(30))
			}
		}

		// Drive the server; one sync barrier at a random moment; kill.
		var (
			mu         sync.Mutex
			writes     []ackedWrite
			guestsByID = map[string]*replGuest{}
			barrierAt  time.Time // start of the last completed barrier
			serverErrs atomic.Int64
			firstErr   atomic.Value
		)
		for _, g := range live {
			guestsByID[g.id] = g
		}
		ack := func(w ackedWrite) {
			mu.Lock()
			writes = append(writes, w)
			mu.Unlock()
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		const workers = 6
		for w := 0; w < workers; w++ {
			var mine []*replGuest
			for i := w; i < len(live); i += workers {
				mine = append(mine, live[i])
			}
			wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				replWork(s, wrng, stop, mine, accounts, ack, func(g *replGuest) {
					mu.Lock()
					guestsByID[g.id] = g
					mu.Unlock()
				}, func(status int, body []byte) {
					serverErrs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", status, body))
				})
			}()
		}
		drive := time.Duration(400+rng.IntN(2100)) * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(rng.Int64N(int64(drive) * 6 / 10))):
			}
			began := time.Now()
			if res := s.call(http.MethodPost, "/api/replication/sync", su, nil); res.status == http.StatusOK {
				mu.Lock()
				barrierAt = began
				mu.Unlock()
			}
		}()
		time.Sleep(drive)
		killedAt := time.Now()
		s.kill()
		close(stop)
		wg.Wait()
		stats.kills++
		if n := serverErrs.Load(); n > 0 {
			t.Fatalf("iteration %d: %d responses were 5xx: %v", it, n, firstErr.Load())
		}

		// The disk is gone: restore the replica somewhere else and look.
		check := *base
		check.data = filepath.Join(base.dir, fmt.Sprintf("restored_%d", it))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := replicate.Restore(ctx, url, check.data, "data.db")
		cancel()
		if err != nil {
			t.Fatalf("iteration %d: restore after the kill: %v", it, err)
		}
		st := readState(t, &check)
		checkRestoredInvariants(t, &check, it)

		slices.SortFunc(writes, func(a, b ackedWrite) int { return a.ackAt.Compare(b.ackAt) })
		var firstLost *ackedWrite
		for i := range writes {
			w := &writes[i]
			stats.acked++
			if w.present(st) {
				if firstLost != nil && w.sentAt.After(firstLost.ackAt) {
					t.Fatalf("iteration %d: not a prefix: %s (acknowledged %s before the kill) is lost, but %s, sent after that, survived",
						it, firstLost.what, killedAt.Sub(firstLost.ackAt), w.what)
				}
				continue
			}
			if !barrierAt.IsZero() && w.ackAt.Before(barrierAt) {
				t.Fatalf("iteration %d: %s was acknowledged before a completed sync barrier (%s before the kill) but is not in the restored database",
					it, w.what, killedAt.Sub(w.ackAt))
			}
			if firstLost == nil {
				firstLost = w
			}
			stats.lost++
			stats.ages = append(stats.ages, killedAt.Sub(w.ackAt))
		}

		// The next iteration continues with the guests that are still guests.
		live = live[:0]
		for id, g := range guestsByID {
			if u, ok := st.users[id]; ok && u.anonymous {
				live = append(live, g)
			}
		}
		slices.SortFunc(live, func(a, b *replGuest) int { return strings.Compare(a.id, b.id) })
		prev = st
	}
	t.Logf("%s: %s", url[:strings.Index(url, ":")], stats.summary())
	return stats
}

// replWork runs one client: its own guests, sequential requests.
func replWork(s *server, rng *rand.Rand, stop <-chan struct{}, mine []*replGuest, accounts []account,
	ack func(ackedWrite), born func(*replGuest), serverErr func(int, []byte)) {
	pick := func() *replGuest {
		if len(mine) == 0 {
			return nil
		}
		return mine[rng.IntN(len(mine))]
	}
	drop := func(g *replGuest) {
		mine = slices.DeleteFunc(mine, func(x *replGuest) bool { return x == g })
	}
	record := func(g *replGuest, collection string) apiResult {
		sent := time.Now()
		res := s.call(http.MethodPost, "/api/collections/"+collection+"/records", g.token, map[string]any{
			"owner": g.id, "items": "mug x1", "total": 1800,
		})
		var rec struct {
			Id string `json:"id"`
		}
		if res.status == http.StatusOK && res.decode(&rec) == nil {
			id := rec.Id
			ack(ackedWrite{what: collection + " " + id, sentAt: sent, ackAt: time.Now(), present: func(st *restoredState) bool {
				if collection == "carts" {
					return st.carts[id]
				}
				return st.orders[id]
			}})
		}
		return res
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		var res apiResult
		switch op := rng.IntN(100); {
		case op < 35 || len(mine) == 0: // a new guest with a cart
			sent := time.Now()
			res = s.call(http.MethodPost, "/api/collections/users/auth-anonymously", "", nil)
			var auth authResponse
			if res.status == http.StatusOK && res.decode(&auth) == nil {
				g := &replGuest{id: auth.Record.Id, token: auth.Token}
				ack(ackedWrite{what: "sign-in " + g.id, sentAt: sent, ackAt: time.Now(), present: func(st *restoredState) bool {
					_, ok := st.users[g.id]
					return ok || st.merged[g.id]
				}})
				born(g)
				mine = append(mine, g)
				res = record(g, "carts")
			}
		case op < 55:
			res = record(pick(), "carts")
		case op < 70:
			res = record(pick(), "orders")
		case op < 85: // upgrade in place
			g := pick()
			email := "upgraded-" + g.id + "@test.local"
			sent := time.Now()
			res = s.call(http.MethodPost, "/api/collections/users/upgrade-anonymous", g.token, map[string]any{
				"email": email, "password": "upgraded-password-1", "passwordConfirm": "upgraded-password-1",
			})
			if res.status == http.StatusOK {
				ack(ackedWrite{what: "upgrade " + g.id, sentAt: sent, ackAt: time.Now(), present: func(st *restoredState) bool {
					u, ok := st.users[g.id]
					return ok && !u.anonymous && u.email == email
				}})
				drop(g)
			}
		default: // merge into an account: password sign-in carrying the guest session
			g := pick()
			a := accounts[rng.IntN(len(accounts))]
			sent := time.Now()
			res = s.call(http.MethodPost, "/api/collections/users/auth-with-password", g.token, map[string]any{
				"identity": a.email, "password": a.password,
			})
			if res.status == http.StatusOK {
				ack(ackedWrite{what: "merge " + g.id, sentAt: sent, ackAt: time.Now(), present: func(st *restoredState) bool {
					_, exists := st.users[g.id]
					return !exists && st.merged[g.id]
				}})
				drop(g)
			}
		}
		switch {
		case res.err != nil:
			return // the kill
		case res.status >= 500:
			serverErr(res.status, res.body)
		}
	}
}

// restoredState is what a restored database holds.
type restoredState struct {
	users         map[string]replUser
	carts, orders map[string]bool
	merged        map[string]bool // guests with an anonymous.merged audit row
}

type replUser struct {
	anonymous bool
	email     string
}

func readState(t *testing.T, ws *workspace) *restoredState {
	t.Helper()
	db := openDB(t, ws)
	defer db.Close()
	st := &restoredState{users: map[string]replUser{}, carts: map[string]bool{}, orders: map[string]bool{}, merged: map[string]bool{}}
	rows, err := db.Query(`SELECT id, isAnonymous, email FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var u replUser
		if err := rows.Scan(&id, &u.anonymous, &u.email); err != nil {
			t.Fatal(err)
		}
		st.users[id] = u
	}
	rows.Close()
	for _, id := range queryStrings(t, db, `SELECT id FROM carts`) {
		st.carts[id] = true
	}
	for _, id := range queryStrings(t, db, `SELECT id FROM orders`) {
		st.orders[id] = true
	}
	for _, id := range queryStrings(t, db, `SELECT recordRef FROM anonymousEvents WHERE event = 'anonymous.merged'`) {
		st.merged[id] = true
	}
	return st
}

func sameState(a, b *restoredState) bool {
	sameKeys := func(x, y map[string]bool) bool {
		if len(x) != len(y) {
			return false
		}
		for k := range x {
			if !y[k] {
				return false
			}
		}
		return true
	}
	if len(a.users) != len(b.users) {
		return false
	}
	for id, u := range a.users {
		if b.users[id] != u {
			return false
		}
	}
	return sameKeys(a.carts, b.carts) && sameKeys(a.orders, b.orders)
}

// checkRestoredInvariants: integrity, no half-converted user, no orphan.
func checkRestoredInvariants(t *testing.T, ws *workspace, it int) {
	t.Helper()
	db := openDB(t, ws)
	defer db.Close()
	if res := queryStrings(t, db, `PRAGMA integrity_check`); len(res) != 1 || res[0] != "ok" {
		t.Fatalf("iteration %d: integrity_check of the restored database: %v", it, res)
	}
	half := queryStrings(t, db, `SELECT id FROM users WHERE
		(isAnonymous = 1 AND (password NOT LIKE '!anonymous:%' OR email NOT LIKE 'anonymous-%'))
		OR (isAnonymous = 0 AND (password LIKE '!anonymous:%' OR password NOT LIKE '$2%' OR email LIKE 'anonymous-%'))`)
	if len(half) > 0 {
		t.Fatalf("iteration %d: half-converted users in the restored database: %v", it, half)
	}
	for _, c := range []string{"carts", "orders"} {
		if orphans := queryStrings(t, db, `SELECT id FROM `+c+` WHERE owner != '' AND owner NOT IN (SELECT id FROM users)`); len(orphans) > 0 {
			t.Fatalf("iteration %d: restored %s owned by no user: %v", it, c, orphans)
		}
	}
}

func superuserToken(t *testing.T, s *server) string {
	t.Helper()
	res := s.call(http.MethodPost, "/api/collections/_superusers/auth-with-password", "", map[string]any{
		"identity": replSuperuser, "password": replPassword,
	})
	var auth authResponse
	if res.status != http.StatusOK || res.decode(&auth) != nil {
		t.Fatalf("superuser sign-in: %d %s %v", res.status, res.body, res.err)
	}
	return auth.Token
}

// TestReplicationBadInput: a replica that cannot be reached or a URL that
// cannot work never stops the server from serving; the health view says
// "down" and why. A restore from an empty or corrupt replica fails the
// start with exit status 1 and writes nothing; an existing database is
// never replaced.
func TestReplicationBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary: not in -short")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")

	serveDown := func(t *testing.T, url, wantErr string) {
		ws := newWorkspace(t)
		if out, err := runCLI(ws, "superuser", "upsert", replSuperuser, replPassword); err != nil {
			t.Fatalf("superuser upsert: %v\n%s", err, out)
		}
		s := startHealthy(t, ws, "--replicate="+url)
		// It serves.
		if res := s.call(http.MethodPost, "/api/collections/users/auth-anonymously", "", nil); res.status != http.StatusOK {
			t.Fatalf("sign-in with the replica down: %d %s %v", res.status, res.body, res.err)
		}
		su := superuserToken(t, s)
		var health struct {
			Data struct {
				Replication replicate.Status `json:"replication"`
			} `json:"data"`
		}
		// The replica is contacted in the background; wait for the verdict
		// (bounded by the attempts, not by a clock).
		for attempt := 0; ; attempt++ {
			res := s.call(http.MethodGet, "/api/health", su, nil)
			if res.status != http.StatusOK || res.decode(&health) != nil {
				t.Fatalf("health: %d %s", res.status, res.body)
			}
			down := health.Data.Replication.State == replicate.StateDown && strings.Contains(s.log.String(), "level=ERROR")
			if down || attempt == 400 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		st := health.Data.Replication
		errText := st.Error
		for _, db := range st.Databases {
			errText += db.LastError
		}
		if st.State != replicate.StateDown || !strings.Contains(errText, wantErr) {
			t.Fatalf("health replication = %+v, want state down with %q\n%s", st, wantErr, s.log.Tail(20))
		}
		if !strings.Contains(s.log.String(), "level=ERROR") {
			t.Fatalf("no error logged:\n%s", s.log.Tail(20))
		}
		if res := s.call(http.MethodPost, "/api/replication/sync", su, nil); res.status != http.StatusServiceUnavailable {
			t.Fatalf("sync barrier with the replica down: %d %s, want 503", res.status, res.body)
		}
		// Anonymous callers see PocketBase's health answer, unchanged.
		if res := s.call(http.MethodGet, "/api/health", "", nil); res.status != http.StatusOK || strings.Contains(string(res.body), "replication") {
			t.Fatalf("public health: %d %s", res.status, res.body)
		}
		if res := s.call(http.MethodPost, "/api/replication/sync", "", nil); res.status != http.StatusUnauthorized {
			t.Fatalf("sync barrier without auth: %d, want 401", res.status)
		}
	}
	t.Run("unreachable S3 endpoint", func(t *testing.T) {
		addr, err := devserver.FreeAddr() // nothing listens there
		if err != nil {
			t.Fatal(err)
		}
		serveDown(t, "s3://bucket/app?endpoint=http://"+addr+"&region=us-east-1", addr)
	})
	t.Run("unsupported scheme", func(t *testing.T) {
		serveDown(t, "gs://bucket/app", `unsupported scheme "gs"`)
	})
	t.Run("file replica not writable", func(t *testing.T) {
		blocker := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		serveDown(t, "file://"+blocker+"/replica", "not a directory")
	})

	restoreFails := func(t *testing.T, url, wantErr string) {
		ws := newWorkspace(t)
		fresh := filepath.Join(ws.dir, "fresh_pb_data")
		ws.data = fresh
		s := start(t, ws, "--replicate="+url, "--restoreIfMissing")
		select {
		case <-s.proc.Done():
		case <-time.After(2 * time.Minute):
			t.Fatalf("the server started from an unusable replica:\n%s", s.log.Tail(20))
		}
		if code := s.proc.ProcessState().ExitCode(); code != 1 {
			t.Fatalf("exit status %d, want 1\n%s", code, s.log.Tail(20))
		}
		if !strings.Contains(s.log.String(), wantErr) {
			t.Fatalf("output lacks %q:\n%s", wantErr, s.log.Tail(20))
		}
		if _, err := os.Stat(fresh); !os.IsNotExist(err) {
			entries, _ := os.ReadDir(fresh)
			t.Fatalf("a failed restore left pb_data behind: %v", entries)
		}
	}
	t.Run("restore from an empty replica", func(t *testing.T) {
		restoreFails(t, "file://"+t.TempDir(), "the replica holds no backup")
	})
	t.Run("restore from a corrupt replica", func(t *testing.T) {
		replica := filepath.Join(t.TempDir(), "replica")
		ws := newWorkspace(t)
		s := startHealthy(t, ws, "--replicate=file://"+replica)
		s.call(http.MethodPost, "/api/collections/users/auth-anonymously", "", nil)
		s.proc.Stop(30 * time.Second) // graceful: the final sync uploads everything
		var ltxFiles []string
		_ = filepath.WalkDir(replica, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".ltx") {
				ltxFiles = append(ltxFiles, p)
			}
			return nil
		})
		if len(ltxFiles) == 0 {
			t.Fatalf("nothing replicated:\n%s", s.log.Tail(20))
		}
		for _, f := range ltxFiles {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i := 100; i < len(raw); i += 7 {
				raw[i] ^= 0xff
			}
			if err := os.WriteFile(f, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		restoreFails(t, "file://"+replica, "restore data.db from file://"+replica)
	})
	t.Run("an existing database is not replaced", func(t *testing.T) {
		replica := filepath.Join(t.TempDir(), "replica")
		other := newWorkspace(t)
		s := startHealthy(t, other, "--replicate=file://"+replica)
		s.proc.Stop(30 * time.Second)

		ws := newWorkspace(t)
		s = startHealthy(t, ws)
		res := s.call(http.MethodPost, "/api/collections/users/auth-anonymously", "", nil)
		var auth authResponse
		if res.status != http.StatusOK || res.decode(&auth) != nil {
			t.Fatalf("sign-in: %d %s", res.status, res.body)
		}
		s.proc.Stop(30 * time.Second)

		s = startHealthy(t, ws, "--replicate=file://"+replica, "--restoreIfMissing")
		s.proc.Stop(30 * time.Second)
		if !strings.Contains(s.log.String(), "database exists, not restoring") {
			t.Fatalf("no word about the existing database:\n%s", s.log.Tail(20))
		}
		if st := readState(t, ws); st.users[auth.Record.Id] == (replUser{}) {
			t.Fatalf("the existing database was replaced: guest %s is gone", auth.Record.Id)
		}
	})
}

// TestReplicationAuxiliary: with --replicateAuxiliary the logs database
// travels too, and comes back with --restoreIfMissing.
func TestReplicationAuxiliary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary: not in -short")
	}
	replica := "file://" + filepath.Join(t.TempDir(), "replica")
	ws := newWorkspace(t)
	if out, err := runCLI(ws, "superuser", "upsert", replSuperuser, replPassword); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, out)
	}
	s := startHealthy(t, ws, "--replicate="+replica, "--replicateAuxiliary")
	su := superuserToken(t, s)
	res := s.call(http.MethodPost, "/api/replication/sync", su, nil)
	var synced struct {
		Databases map[string]uint64 `json:"databases"`
	}
	if res.status != http.StatusOK || res.decode(&synced) != nil || synced.Databases["data.db"] == 0 || synced.Databases["auxiliary.db"] == 0 {
		t.Fatalf("sync barrier: %d %s\n%s", res.status, res.body, s.log.Tail(20))
	}
	s.kill()

	fresh := *ws
	fresh.data = filepath.Join(ws.dir, "fresh_pb_data")
	s = startHealthy(t, &fresh, "--replicate="+replica, "--replicateAuxiliary", "--restoreIfMissing")
	s.kill()
	for _, db := range []string{"data.db", "auxiliary.db"} {
		if !strings.Contains(s.log.String(), `msg="database restored" plugin=replicate db=`+db) {
			t.Fatalf("%s not restored:\n%s", db, s.log.Tail(20))
		}
	}
}
