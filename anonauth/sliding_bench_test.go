package anonauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/anonauth"
)

// BenchmarkCookieSessionRequest is the cost of sliding sessions: the same
// cookie-authenticated request (a guest reading its own record through the
// records API) with a young token ("plain": nothing renewed) and with a
// token past the renewal share ("renewing": a new token is signed and a new
// pb_auth cookie written), and the renewal's own work alone. Run with:
//
//	go test ./anonauth -run '^$' -bench CookieSessionRequest -benchtime 2s -count 5
func BenchmarkCookieSessionRequest(b *testing.B) {
	app, p := newBenchApp(b, anonauth.Config{})
	users, err := app.FindCachedCollectionByNameOrId("users")
	if err != nil {
		b.Fatal(err)
	}
	guest, err := p.CreateGuest(app, users)
	if err != nil {
		b.Fatal(err)
	}
	young, err := p.NewToken(guest)
	if err != nil {
		b.Fatal(err)
	}
	// Issued 0.6 × lifetime ago: still valid, due for renewal.
	anonauth.SetClock(p, func() time.Time { return time.Now().Add(-p.Config().TokenDuration * 6 / 10) })
	old, err := p.NewToken(guest)
	anonauth.SetClock(p, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	handler := benchHandler(b, app)

	// The renewal's own work, without the request around it: what
	// "renewing" adds to "plain", measured without the noise of a whole
	// request on a loaded machine.
	b.Run("renewal-work", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			token, err := p.NewToken(guest)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := anonauth.EncodeAuthCookie(token, guest); err != nil {
				b.Fatal(err)
			}
		}
	})

	plainCookie, err := anonauth.EncodeAuthCookie(young, guest)
	if err != nil {
		b.Fatal(err)
	}
	dueCookie, err := anonauth.EncodeAuthCookie(old, guest)
	if err != nil {
		b.Fatal(err)
	}
	request := func(b *testing.B, cookie string, renewed bool) time.Duration {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/collections/users/records/"+guest.Id, nil)
		req.AddCookie(&http.Cookie{Name: anonauth.CookieName, Value: cookie})
		start := time.Now()
		handler.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != http.StatusOK || (rec.Header().Get("Set-Cookie") != "") != renewed {
			b.Fatalf("status %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
		}
		return took
	}

	// Both kinds in alternating blocks of one loop, measured in CPU time
	// of the process (user + system, GC included): on a shared, loaded
	// machine wall time mostly measures the scheduler, CPU time measures
	// the work. Reports each kind's CPU per request and the overhead.
	b.Run("paired-cpu", func(b *testing.B) {
		const block = 100
		var plain, renewing time.Duration
		for i := 0; i < b.N; i += block {
			type kind struct {
				cookie  string
				renewed bool
				total   *time.Duration
			}
			kinds := []kind{{plainCookie, false, &plain}, {dueCookie, true, &renewing}}
			if (i/block)%2 == 1 {
				kinds[0], kinds[1] = kinds[1], kinds[0] // alternate which kind goes first
			}
			for _, c := range kinds {
				start := processCPU()
				for j := 0; j < block; j++ {
					request(b, c.cookie, c.renewed)
				}
				*c.total += processCPU() - start
			}
		}
		n := float64((b.N + block - 1) / block * block)
		b.ReportMetric(float64(plain.Nanoseconds())/n, "plain-cpu-ns/req")
		b.ReportMetric(float64(renewing.Nanoseconds())/n, "renewing-cpu-ns/req")
		b.ReportMetric(100*float64(renewing-plain)/float64(plain), "overhead-%")
	})

	for _, c := range []struct {
		name    string
		token   string
		renewed bool
	}{{"plain", young, false}, {"renewing", old, true}} {
		value, err := anonauth.EncodeAuthCookie(c.token, guest)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/api/collections/users/records/"+guest.Id, nil)
				req.AddCookie(&http.Cookie{Name: anonauth.CookieName, Value: value})
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || (rec.Header().Get("Set-Cookie") != "") != c.renewed {
					b.Fatalf("status %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
				}
			}
		})
	}
}
