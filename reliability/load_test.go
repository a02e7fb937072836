package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestLoadSignIns: 10,000 anonymous sign-ins from 64 concurrent keep-alive
// clients against the real binary (rate limit off). Every one must answer
// 200 with a {token, record} and a pb_auth cookie holding the same token; no
// id or email may repeat; every token must verify (HS256 with the record's
// tokenKey + the collection secret read from the database, auth type,
// right id and collection, the guest lifetime) and a sample must pass
// PocketBase's own auth-refresh.
func TestLoadSignIns(t *testing.T) {
	total := envInt("POCKETGUEST_RELIABILITY_SIGNINS", 10_000)
	const clients = 64
	if testing.Short() {
		total = 1_000
	}

	ws := newWorkspace(t)
	s := startHealthy(t, ws)

	type result struct {
		id, email, token, cookieToken string
		latency                       time.Duration
	}
	results := make([]result, total)
	var (
		next     atomic.Int64
		errMu    sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		} else {
			failures = append(failures[:20], "...")
		}
	}

	began := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, s.url("/api/collections/users/auth-anonymously"), nil)
				res := s.do(req)
				lat := time.Since(t0)
				if res.err != nil || res.status != http.StatusOK {
					fail("sign-in %d: status %d, err %v: %.200s", i, res.status, res.err, res.body)
					continue
				}
				var auth authResponse
				if err := res.decode(&auth); err != nil || auth.Token == "" || auth.Record.Id == "" || !auth.Record.IsAnonymous {
					fail("sign-in %d: bad body %v: %.200s", i, err, res.body)
					continue
				}
				results[i] = result{
					id:          auth.Record.Id,
					email:       auth.Record.Email,
					token:       auth.Token,
					cookieToken: cookieToken(res.header),
					latency:     lat,
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	if len(failures) > 0 {
		t.Fatalf("%d+ failed sign-ins:\n%s", len(failures), joinLines(failures))
	}

	lat := make([]time.Duration, total)
	ids := make(map[string]bool, total)
	emails := make(map[string]bool, total)
	for i, r := range results {
		lat[i] = r.latency
		if ids[r.id] {
			t.Fatalf("duplicate id %s", r.id)
		}
		if emails[r.email] {
			t.Fatalf("duplicate email %s", r.email)
		}
		ids[r.id], emails[r.email] = true, true
		if r.cookieToken != r.token {
			t.Fatalf("sign-in %d: the pb_auth cookie holds another token than the body", i)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("%d sign-ins from %d clients in %s: %.0f/s, p50 %s, p99 %s, max %s, 0 errors, 0 duplicate ids/emails",
		total, clients, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(),
		lat[total/2].Round(time.Microsecond), lat[total*99/100].Round(time.Microsecond), lat[total-1].Round(time.Microsecond))

	// A sample through PocketBase's own token check (auth-refresh), while
	// the server is up: the tokens are real sessions.
	for i := 0; i < total; i += total / 100 {
		res := s.call(http.MethodPost, "/api/collections/users/auth-refresh", results[i].token, nil)
		var auth authResponse
		if res.status != http.StatusOK || res.decode(&auth) != nil || auth.Record.Id != results[i].id {
			t.Fatalf("auth-refresh of sign-in %d: status %d %.200s", i, res.status, res.body)
		}
	}

	// Every token, verified against the database: the signing key is the
	// record's tokenKey + the collection's auth token secret.
	db := openDB(t, ws)
	var collectionId, options string
	if err := db.QueryRow(`SELECT id, options FROM _collections WHERE name = 'users'`).Scan(&collectionId, &options); err != nil {
		t.Fatal(err)
	}
	var opts struct {
		AuthToken struct {
			Secret string `json:"secret"`
		} `json:"authToken"`
	}
	if err := json.Unmarshal([]byte(options), &opts); err != nil || opts.AuthToken.Secret == "" {
		t.Fatalf("users options: %v %q", err, options)
	}
	rows, err := db.Query(`SELECT id, email, tokenKey, isAnonymous FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	type dbRow struct {
		email, tokenKey string
		anonymous       bool
	}
	stored := map[string]dbRow{}
	for rows.Next() {
		var id string
		var r dbRow
		if err := rows.Scan(&id, &r.email, &r.tokenKey, &r.anonymous); err != nil {
			t.Fatal(err)
		}
		stored[id] = r
	}
	rows.Close()

	now := time.Now()
	for i, r := range results {
		row, ok := stored[r.id]
		if !ok {
			t.Fatalf("sign-in %d: record %s is not in the database", i, r.id)
		}
		if row.email != r.email || !row.anonymous {
			t.Fatalf("sign-in %d: stored %+v, answered email %s", i, row, r.email)
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(r.token, claims, func(tok *jwt.Token) (any, error) {
			if tok.Method != jwt.SigningMethodHS256 {
				return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
			}
			return []byte(row.tokenKey + opts.AuthToken.Secret), nil
		})
		if err != nil {
			t.Fatalf("sign-in %d: token does not verify: %v", i, err)
		}
		exp, _ := claims.GetExpirationTime()
		if claims["type"] != "auth" || claims["id"] != r.id || claims["collectionId"] != collectionId ||
			exp == nil || exp.Sub(now) < 167*time.Hour || exp.Sub(now) > 169*time.Hour {
			t.Fatalf("sign-in %d: unexpected claims %v", i, claims)
		}
	}
	if n := len(stored); n < total {
		t.Fatalf("%d users stored, want at least %d", n, total)
	}
}

// cookieToken returns the token inside the response's pb_auth cookie.
func cookieToken(h http.Header) string {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name != "pb_auth" {
			continue
		}
		raw, err := url.PathUnescape(c.Value)
		if err != nil {
			return ""
		}
		var payload struct {
			Token string `json:"token"`
		}
		if json.Unmarshal([]byte(raw), &payload) != nil {
			return ""
		}
		return payload.Token
	}
	return ""
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
