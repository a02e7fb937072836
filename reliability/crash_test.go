package reliability

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestCrashRecovery is the crash harness. Each iteration starts the real
// binary on the same pb_data, runs concurrent clients that sign guests in,
// give them carts and orders (relations to users), upgrade them, merge them
// into existing accounts (password sign-in carrying the guest session),
// delete them and refresh their tokens, and, in about half the iterations,
// runs `pocketguest anonymous cleanup` as a second process at the same
// time. Then it SIGKILLs the server (and the cleanup) at a random moment, a
// few times during start-up, and checks the database:
//
//   - PRAGMA integrity_check is "ok";
//   - no half-converted user: a guest (isAnonymous) has its placeholder
//     email and unusable hash, a regular user has neither;
//   - no cart or order points at a user that does not exist;
//   - the audit trail agrees with the records: a live user has no terminal
//     event, a converted one has exactly one "converted", a gone guest at
//     most one "merged"/"deleted";
//   - everything the server acknowledged before the kill is there:
//     upgraded accounts (same id, not anonymous, the new email, a bcrypt
//     hash: a converted account is never deleted), deleted and merged
//     guests gone, carts with their owner (or the account they were merged
//     into, or gone with a deleted guest);
//   - a cleanup killed half-way, run again, finishes: exit 0 and no stale
//     guest left.
//
// POCKETGUEST_RELIABILITY_KILLS sets the number of iterations (default 15),
// POCKETGUEST_RELIABILITY_SEED the random seed (logged, for a replay).
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash harness: not in -short")
	}
	if !hasCommand("anonymous") {
		t.Fatal("the binary has no `anonymous` command (anonymous cleanup): main.go must add guests.Command()")
	}
	iterations := envInt("POCKETGUEST_RELIABILITY_KILLS", 15)
	seed := uint64(envInt("POCKETGUEST_RELIABILITY_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("seed %d (POCKETGUEST_RELIABILITY_SEED=%d replays it), %d iterations", seed, seed, iterations)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	ws := newWorkspace(t)
	m := newModel()
	var stats crashStats

	for it := 0; it < iterations; it++ {
		// A few kills land during start-up (migrations on the first one,
		// schema checks and the VM pools afterwards).
		if it == 0 || rng.IntN(6) == 0 {
			s := start(t, ws)
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			s.kill()
			stats.startupKills++
			checkInvariants(t, ws, m, it, "killed during start-up")
		}

		s := startHealthy(t, ws)
		if len(m.accounts) == 0 {
			m.createAccounts(t, s, 3)
		}

		withCleanup := rng.IntN(2) == 0
		var cli *exec.Cmd
		cliDone := make(chan error, 1)
		if withCleanup {
			cli = exec.Command(binPath, "anonymous", "cleanup", "--max-age=1500ms", "--batch=1",
				"--dir="+ws.data, "--dev=false", "--automigrate=false",
				"--hooksDir="+ws.hooks, "--migrationsDir="+ws.migrations, "--hooksWatch=false")
			cli.Dir = ws.dir
			cli.Env = childEnv()
			if err := cli.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { cliDone <- cli.Wait() }()
			// Killed on its own schedule, usually mid-run (it sleeps between
			// its small batches).
			cliKill := time.Duration(50+rng.IntN(700)) * time.Millisecond
			time.AfterFunc(cliKill, func() { _ = cli.Process.Signal(syscall.SIGKILL) })
		}

		// Drive the server, then kill it at a random moment.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			go func() {
				defer wg.Done()
				m.work(s, wrng, stop, &stats)
			}()
		}
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		s.kill()
		stats.serverKills++
		close(stop)
		wg.Wait()

		if withCleanup {
			// The cleanup may be done already; if not it dies now too.
			_ = cli.Process.Signal(syscall.SIGKILL)
			if err := <-cliDone; err != nil {
				stats.cleanupKills++
			}
		}

		checkInvariants(t, ws, m, it, "after SIGKILL")

		if withCleanup {
			// A cleanup restarted after the crash finishes the job.
			cutoff := time.Now().Add(-1500 * time.Millisecond)
			out, err := runCLI(ws, "anonymous", "cleanup", "--max-age=1500ms", "--batch=3")
			if err != nil {
				t.Fatalf("iteration %d: cleanup after the crash failed: %v\n%s", it, err, out)
			}
			if !strings.Contains(string(out), "found ") {
				t.Fatalf("iteration %d: unexpected cleanup output:\n%s", it, out)
			}
			db := openDB(t, ws)
			var stale int
			if err := db.QueryRow(`SELECT COUNT(*) FROM users WHERE isAnonymous = 1 AND lastSeen != '' AND lastSeen < ?`,
				cutoff.UTC().Format("2006-01-02 15:04:05.000Z")).Scan(&stale); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if stale != 0 {
				t.Fatalf("iteration %d: %d stale guests left after the cleanup finished:\n%s", it, stale, out)
			}
			stats.cleanupReruns++
			checkInvariants(t, ws, m, it, "after the restarted cleanup")
		}
	}

	t.Logf("%d server SIGKILLs (%d during start-up), %d cleanup processes killed mid-run, %d cleanups re-run to completion; "+
		"requests: %d sign-ins, %d carts/orders, %d upgrades, %d merges, %d deletes, %d refreshes acknowledged, %d in flight at a kill, %d other 4xx",
		stats.serverKills+stats.startupKills, stats.startupKills, stats.cleanupKills, stats.cleanupReruns,
		stats.signIns.Load(), stats.records.Load(), stats.upgrades.Load(), stats.merges.Load(), stats.deletes.Load(), stats.refreshes.Load(),
		stats.inFlight.Load(), stats.refused.Load())
	if n := stats.serverErrors.Load(); n > 0 {
		t.Fatalf("%d responses were 5xx: %s", n, m.firstServerError)
	}
}

type crashStats struct {
	serverKills, startupKills, cleanupKills, cleanupReruns int

	signIns, records, upgrades, merges, deletes, refreshes atomic.Int64
	inFlight, refused, serverErrors                        atomic.Int64
}

// model is what the clients were told: the acknowledged state.
type model struct {
	mu               sync.Mutex
	accounts         []account
	guests           []*guest // every guest ever signed in
	live             []*guest // guests to pick from
	firstServerError string
}

type account struct{ id, email, password string }

type guest struct {
	id, token string

	// acknowledged outcome ("" while live)
	outcome    string   // "converted", "merged", "deleted"
	email      string   // converted
	mergedInto []string // accounts of the acknowledged merge sign-ins: one of them got the data

	carts, orders []string
}

func newModel() *model { return &model{} }

func (m *model) createAccounts(t testing.TB, s *server, n int) {
	for i := 0; i < n; i++ {
		a := account{email: fmt.Sprintf("account%d-%d@test.local", i, time.Now().UnixNano()), password: "account-password-1234"}
		res := s.call(http.MethodPost, "/api/collections/users/records", "", map[string]any{
			"email": a.email, "password": a.password, "passwordConfirm": a.password,
		})
		var rec struct {
			Id string `json:"id"`
		}
		if res.status != http.StatusOK || res.decode(&rec) != nil {
			t.Fatalf("create account: %d %s %v", res.status, res.body, res.err)
		}
		a.id = rec.Id
		m.accounts = append(m.accounts, a)
	}
}

// pick returns a random live guest, or nil.
func (m *model) pick(rng *rand.Rand) *guest {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.live) == 0 {
		return nil
	}
	return m.live[rng.IntN(len(m.live))]
}

// settle records an acknowledged outcome and takes the guest off the live list.
func (m *model) settle(g *guest, outcome string, set func(g *guest)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// A merge's 200 is weak: the sign-in also stands when the guest had
	// already been converted or deleted by another request. An upgrade's 200
	// and a delete's 204 prove their change committed.
	if outcome == "merged" && set != nil {
		set(g) // every acknowledged merge names a candidate account
	}
	if g.outcome != "" && !(g.outcome == "merged" && outcome != "merged") {
		return
	}
	g.outcome = outcome
	if set != nil && outcome != "merged" {
		set(g)
	}
	for i, l := range m.live {
		if l == g {
			m.live = append(m.live[:i], m.live[i+1:]...)
			break
		}
	}
}

// work runs random operations until stop is closed or the server is gone.
func (m *model) work(s *server, rng *rand.Rand, stop <-chan struct{}, st *crashStats) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		var res apiResult
		switch op := rng.IntN(100); {
		case op < 30: // a new guest with a cart and maybe an order
			res = s.call(http.MethodPost, "/api/collections/users/auth-anonymously", "", nil)
			var auth authResponse
			if res.status == http.StatusOK && res.decode(&auth) == nil {
				st.signIns.Add(1)
				m.mu.Lock()
				g := &guest{id: auth.Record.Id, token: auth.Token}
				m.guests = append(m.guests, g)
				m.live = append(m.live, g)
				m.mu.Unlock()
				res = m.addRecord(s, g, "carts", st)
				if res.err == nil && rng.IntN(2) == 0 {
					res = m.addRecord(s, g, "orders", st)
				}
			}
		case op < 45:
			if g := m.pick(rng); g != nil {
				res = m.addRecord(s, g, "carts", st)
			}
		case op < 60: // upgrade in place
			if g := m.pick(rng); g != nil {
				email := "upgraded-" + g.id + "@test.local"
				res = s.call(http.MethodPost, "/api/collections/users/upgrade-anonymous", g.token, map[string]any{
					"email": email, "password": "upgraded-password-1", "passwordConfirm": "upgraded-password-1",
				})
				if res.status == http.StatusOK {
					st.upgrades.Add(1)
					m.settle(g, "converted", func(g *guest) { g.email = email })
				}
			}
		case op < 75: // merge into an account: password sign-in with the guest session
			if g := m.pick(rng); g != nil {
				a := m.accounts[rng.IntN(len(m.accounts))]
				res = s.call(http.MethodPost, "/api/collections/users/auth-with-password", g.token, map[string]any{
					"identity": a.email, "password": a.password,
				})
				if res.status == http.StatusOK {
					st.merges.Add(1)
					// 200 means the sign-in stood; the guest was merged unless
					// something else had already taken it (checked in the DB).
					m.settle(g, "merged", func(g *guest) { g.mergedInto = append(g.mergedInto, a.id) })
				}
			}
		case op < 85:
			if g := m.pick(rng); g != nil {
				res = s.call(http.MethodPost, "/api/collections/users/delete-anonymous", g.token, nil)
				if res.status == http.StatusNoContent {
					st.deletes.Add(1)
					m.settle(g, "deleted", nil)
				}
			}
		default:
			if g := m.pick(rng); g != nil {
				res = s.call(http.MethodPost, "/api/collections/users/auth-refresh", g.token, nil)
				var auth authResponse
				if res.status == http.StatusOK && res.decode(&auth) == nil {
					st.refreshes.Add(1)
					m.mu.Lock()
					g.token = auth.Token
					m.mu.Unlock()
				}
			}
		}

		switch {
		case res.err != nil:
			st.inFlight.Add(1) // the kill: outcome unknown, the DB decides
			return
		case res.status >= 500:
			st.serverErrors.Add(1)
			m.mu.Lock()
			if m.firstServerError == "" {
				m.firstServerError = fmt.Sprintf("%d %s", res.status, res.body)
			}
			m.mu.Unlock()
		case res.status >= 400:
			st.refused.Add(1) // the guest changed under us (converted, merged, deleted, cleaned)
		}
	}
}

func (m *model) addRecord(s *server, g *guest, collection string, st *crashStats) apiResult {
	m.mu.Lock()
	token := g.token
	m.mu.Unlock()
	res := s.call(http.MethodPost, "/api/collections/"+collection+"/records", token, map[string]any{
		"owner": g.id, "items": "mug x1", "total": 1800,
	})
	var rec struct {
		Id string `json:"id"`
	}
	if res.status == http.StatusOK && res.decode(&rec) == nil {
		st.records.Add(1)
		m.mu.Lock()
		if collection == "carts" {
			g.carts = append(g.carts, rec.Id)
		} else {
			g.orders = append(g.orders, rec.Id)
		}
		m.mu.Unlock()
	}
	return res
}

// checkInvariants opens the killed server's database and checks it (see
// TestCrashRecovery).
func checkInvariants(t *testing.T, ws *workspace, m *model, it int, when string) {
	t.Helper()
	db := openDB(t, ws)
	defer db.Close()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("iteration %d, %s: %s", it, when, fmt.Sprintf(format, args...))
	}

	if res := queryStrings(t, db, `PRAGMA integrity_check`); len(res) != 1 || res[0] != "ok" {
		fail("integrity_check: %v", res)
	}

	var hasUsers int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'carts'`).Scan(&hasUsers); err != nil {
		fail("%v", err)
	}
	if hasUsers == 0 {
		if len(m.guests) > 0 || len(m.accounts) > 0 {
			fail("the schema is gone")
		}
		return // killed before the first migration committed: nothing to check yet
	}

	// Only meaningful once anonauth has added its fields (first serve).
	var hasFlag int
	_ = db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'isAnonymous'`).Scan(&hasFlag)
	if hasFlag == 0 {
		if len(m.guests) > 0 {
			fail("users.isAnonymous disappeared")
		}
		return
	}

	// No half-converted user.
	half := queryStrings(t, db, `SELECT id || ' anon=' || isAnonymous || ' email=' || email || ' hash=' || substr(password, 1, 12) FROM users WHERE
		(isAnonymous = 1 AND (password NOT LIKE '!anonymous:%' OR email NOT LIKE 'anonymous-%'))
		OR (isAnonymous = 0 AND (password LIKE '!anonymous:%' OR password NOT LIKE '$2%' OR email LIKE 'anonymous-%'))`)
	if len(half) > 0 {
		fail("half-converted users: %v", half)
	}

	// No record owned by a user that does not exist.
	for _, c := range []string{"carts", "orders"} {
		orphans := queryStrings(t, db, `SELECT id || ' owner=' || owner || ' created=' || created || ' events=' ||
			COALESCE((SELECT group_concat(event || '@' || created) FROM anonymousEvents WHERE recordRef = owner), 'none')
			FROM `+c+` WHERE owner != '' AND owner NOT IN (SELECT id FROM users)`)
		if len(orphans) > 0 {
			fail("%s pointing at a deleted user: %v", c, orphans)
		}
	}

	// The audit trail agrees with the records.
	type userRow struct {
		anonymous     bool
		email, passwd string
	}
	users := map[string]userRow{}
	rows, err := db.Query(`SELECT id, isAnonymous, email, password FROM users`)
	if err != nil {
		fail("%v", err)
	}
	for rows.Next() {
		var id string
		var u userRow
		if err := rows.Scan(&id, &u.anonymous, &u.email, &u.passwd); err != nil {
			fail("%v", err)
		}
		users[id] = u
	}
	rows.Close()

	events := map[string]map[string]int{}
	rows, err = db.Query(`SELECT recordRef, event FROM anonymousEvents`)
	if err != nil {
		fail("%v", err)
	}
	for rows.Next() {
		var ref, ev string
		if err := rows.Scan(&ref, &ev); err != nil {
			fail("%v", err)
		}
		if events[ref] == nil {
			events[ref] = map[string]int{}
		}
		events[ref][ev]++
	}
	rows.Close()
	for ref, evs := range events {
		terminal := evs["anonymous.merged"] + evs["anonymous.deleted"]
		u, exists := users[ref]
		switch {
		case evs["anonymous.converted"] > 1 || terminal > 1:
			fail("user %s has events %v", ref, evs)
		case exists && terminal > 0:
			fail("user %s exists but has a merged/deleted event %v", ref, evs)
		case exists && evs["anonymous.converted"] == 1 && u.anonymous:
			fail("user %s has a converted event but is still anonymous", ref)
		case !exists && evs["anonymous.converted"] == 1:
			fail("converted account %s was deleted (events %v)", ref, evs)
		}
	}

	ownerIn := func(collection, id string) (string, bool) {
		var owner string
		err := db.QueryRow(`SELECT owner FROM `+collection+` WHERE id = ?`, id).Scan(&owner)
		if err == sql.ErrNoRows {
			return "", false
		}
		if err != nil {
			fail("%v", err)
		}
		return owner, true
	}
	cartOwner := func(id string) (string, bool) { return ownerIn("carts", id) }
	// Orders are kept when their owner is deleted (the relation is emptied).
	checkOrders := func(g *guest, want func(owner string) bool) {
		for _, o := range g.orders {
			if owner, ok := ownerIn("orders", o); !ok || !want(owner) {
				fail("order %s of guest %s (%s): owner %q exists=%v", o, g.id, g.outcome, owner, ok)
			}
		}
	}

	// Everything acknowledged is there.
	m.mu.Lock()
	defer m.mu.Unlock()

	// The next iteration only picks guests that are still guests (the
	// cleanup or a request in flight at the kill may have ended them).
	m.live = slices.DeleteFunc(m.live, func(g *guest) bool {
		u, ok := users[g.id]
		return !ok || !u.anonymous
	})
	for _, a := range m.accounts {
		if u, ok := users[a.id]; !ok || u.anonymous || u.email != a.email {
			fail("account %s lost or changed: %+v", a.id, u)
		}
	}
	for _, g := range m.guests {
		u, exists := users[g.id]
		evs := events[g.id]
		switch g.outcome {
		case "converted":
			if !exists || u.anonymous || u.email != g.email || !strings.HasPrefix(u.passwd, "$2") {
				fail("acknowledged upgrade of %s lost: exists=%v %+v", g.id, exists, u)
			}
			for _, c := range g.carts {
				if owner, ok := cartOwner(c); !ok || owner != g.id {
					fail("cart %s of upgraded %s: owner %q exists=%v", c, g.id, owner, ok)
				}
			}
			checkOrders(g, func(owner string) bool { return owner == g.id })
		case "merged", "deleted":
			if exists && g.outcome == "merged" && !u.anonymous && evs["anonymous.converted"] == 1 {
				continue // a concurrent upgrade won; the sign-in stood without a merge
			}
			if exists {
				fail("acknowledged %s of guest %s, but it still exists (anonymous=%v)", g.outcome, g.id, u.anonymous)
			}
			if evs["anonymous.merged"]+evs["anonymous.deleted"] != 1 {
				fail("guest %s is gone without exactly one merged/deleted event: %v", g.id, evs)
			}
			merged := evs["anonymous.merged"] == 1
			if g.outcome == "deleted" && merged {
				fail("acknowledged self-delete of %s, but the audit says merged", g.id)
			}
			if merged && g.outcome == "merged" {
				checkOrders(g, func(owner string) bool { return slices.Contains(g.mergedInto, owner) })
			} else if !merged {
				checkOrders(g, func(owner string) bool { return owner == "" })
			}
			for _, c := range g.carts {
				owner, ok := cartOwner(c)
				switch {
				case merged && g.outcome == "merged" && (!ok || !slices.Contains(g.mergedInto, owner)):
					fail("cart %s of merged guest %s: owner %q exists=%v, want %s", c, g.id, owner, ok, g.mergedInto)
				case !merged && ok:
					fail("cart %s of deleted guest %s survived (owner %q)", c, g.id, owner)
				}
			}
		default: // live when last acknowledged: may have changed since (in flight, cleanup)
			if !exists {
				if evs["anonymous.merged"]+evs["anonymous.deleted"] != 1 {
					fail("guest %s vanished without a merged/deleted event: %v", g.id, evs)
				}
				continue
			}
			if u.anonymous {
				for _, c := range g.carts {
					if owner, ok := cartOwner(c); !ok || owner != g.id {
						fail("cart %s of live guest %s: owner %q exists=%v", c, g.id, owner, ok)
					}
				}
			}
		}
	}
}
