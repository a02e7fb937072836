package anonauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketguest/pocketguest/anonauth"
)

// temporary diagnostic (not committed): where does a long batch spend its time?
func TestZZDiag(t *testing.T) {
	n := envInt(t, "POCKETGUEST_CLEANUP_LOAD", 500)
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir()})
	if err := app.Bootstrap(); err != nil { t.Fatal(err) }
	if err := app.RunAllMigrations(); err != nil { t.Fatal(err) }
	defer app.ResetBootstrapState()
	var mu sync.Mutex
	var maxDel time.Duration
	app.OnRecordDelete("users").BindFunc(func(e *core.RecordEvent) error {
		s := time.Now(); err := e.Next(); d := time.Since(s)
		mu.Lock(); if d > maxDel { maxDel = d }; mu.Unlock()
		return err
	})
	var maxCommit time.Duration
	app.OnRecordAfterDeleteSuccess("users").BindFunc(func(e *core.RecordEvent) error { return e.Next() })
	p := anonauth.MustRegister(app, anonauth.Config{RateLimit: -1})
	h := appHandler(t, app)
	seedStaleGuests(t, app, n, 40*day)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var maxSign time.Duration
	var when time.Time
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() { defer wg.Done()
			for { select { case <-stop: return; default: }
				s := time.Now()
				rec := post(t, h, signInURL, "", "")
				d := time.Since(s)
				_ = rec
				mu.Lock(); if d > maxSign { maxSign = d; when = s }; mu.Unlock()
			}
		}()
	}
	start := time.Now()
	res, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{})
	close(stop); wg.Wait()
	t.Logf("res %+v err %v; max delete op %s; max sign-in %s at +%s; maxCommit %s", res, err, maxDel, maxSign, when.Sub(start), maxCommit)
}
