package anonauth_test

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	_ "github.com/pocketbase/pocketbase/migrations" // the system collections, as in a real pb_data

	"github.com/pocketguest/pocketguest/anonauth"
	"github.com/pocketguest/pocketguest/internal/stmtcache"
)

// The sign-in benchmarks run on a freshly migrated app (the collections a
// new pocketguest pb_data has: _superusers, users, ...), not on PocketBase's
// test fixtures with their many auth collections, so their profile is the
// server's. Profile with:
//
//	go test ./anonauth -run '^$' -bench SignIn -cpuprofile cpu.out
//	go tool pprof -top anonauth.test cpu.out

// newBenchApp returns a migrated app in a temp dir with anonauth
// registered (rate limit off).
func newBenchApp(b *testing.B, cfg anonauth.Config, connect ...core.DBConnectFunc) (*core.BaseApp, *anonauth.Plugin) {
	b.Helper()
	appCfg := core.BaseAppConfig{DataDir: b.TempDir()}
	if len(connect) > 0 && connect[0] != nil {
		appCfg.DBConnect = connect[0]
	}
	app := core.NewBaseApp(appCfg)
	if err := app.Bootstrap(); err != nil {
		b.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.ResetBootstrapState() })
	cfg.RateLimit = -1
	return app, anonauth.MustRegister(app, cfg)
}

// benchModes are the fast path on (the default) and off; fastpath+
// stmtcache adds the binary's prepared-statement cache (--dbStmtCache) below
// PocketBase.
var benchModes = []struct {
	name    string
	cfg     anonauth.Config
	connect core.DBConnectFunc
}{
	{"fastpath", anonauth.Config{}, nil},
	{"nofastpath", anonauth.Config{DisableFastPath: true}, nil},
	{"fastpath+stmtcache", anonauth.Config{}, stmtcache.DBConnect(stmtcache.Config{})},
}

// BenchmarkCreateGuest is the record creation alone (CreateGuest), 16
// goroutines as the bench's 16 clients.
func BenchmarkCreateGuest(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) { benchCreateGuest(b, mode.cfg, mode.connect) })
	}
}

func benchCreateGuest(b *testing.B, cfg anonauth.Config, connect core.DBConnectFunc) {
	app, p := newBenchApp(b, cfg, connect)
	users, err := app.FindCachedCollectionByNameOrId("users")
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.CreateGuest(app, users); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSignInHTTP is POST /api/collections/users/auth-anonymously
// through PocketBase's real router and middlewares, in process (no
// sockets): the endpoint's server-side cost per sign-in.
func BenchmarkSignInHTTP(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) { benchSignInHTTP(b, mode.cfg, mode.connect) })
	}
}

func benchSignInHTTP(b *testing.B, cfg anonauth.Config, connect core.DBConnectFunc) {
	app, _ := newBenchApp(b, cfg, connect)
	handler := benchHandler(b, app)
	b.SetParallelism(8)
	b.ReportAllocs()
	cpu := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, signInURL, nil)
			req.RemoteAddr = "127.0.0.1:1234"
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.StopTimer()
	// The process's CPU per sign-in (getrusage): steadier than ns/op on a
	// shared machine; the bench's CPU/op column, in process.
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchHandler builds the app's HTTP handler the way `serve` does.
func benchHandler(b *testing.B, app core.App) http.Handler {
	b.Helper()
	r, err := apis.NewRouter(app)
	if err != nil {
		b.Fatal(err)
	}
	se := &core.ServeEvent{App: app, Router: r}
	err = app.OnServe().Trigger(se, func(e *core.ServeEvent) error {
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	mux, err := r.BuildMux()
	if err != nil {
		b.Fatal(err)
	}
	return mux
}
