//go:build unix

package anonauth_test

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/anonauth"
)

// BenchmarkSignInChallenge is BenchmarkSignInHTTP (fast path) with the
// proof-of-work challenge off and on: the server's sign-in rate with the
// check in the path. The solutions are made before the timer starts (that
// is the client's work). cpu-ns/op is the process's CPU time per sign-in
// (see BenchmarkPowVerify): on a shared machine the wall time mostly
// measures the wait for a core.
//
//	go test ./anonauth -run '^$' -bench SignInChallenge -benchtime 2000x
func BenchmarkSignInChallenge(b *testing.B) {
	b.Run("off", func(b *testing.B) {
		app, _ := newBenchApp(b, anonauth.Config{})
		benchSignInWith(b, benchHandler(b, app), func() string { return "" })
	})
	b.Run("pow", func(b *testing.B) {
		app, p := newBenchApp(b, anonauth.Config{Challenge: anonauth.ChallengeConfig{Provider: anonauth.ChallengePow, MaxNumber: 100}})
		solutions := make(chan string, b.N)
		for range b.N {
			solutions <- solvePow(b, anonauth.IssuePowChallenge(p, app, "users", 100))
		}
		benchSignInWith(b, benchHandler(b, app), func() string { return <-solutions })
	})
}

// benchSignInWith runs b.N sign-ins, 16 at a time, each with the next
// solution ("" = none).
func benchSignInWith(b *testing.B, handler http.Handler, next func() string) {
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, signInURL, nil)
			req.RemoteAddr = "127.0.0.1:1234"
			if s := next(); s != "" {
				req.Header.Set(anonauth.ChallengeHeader, s)
			}
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// reportCPU starts measuring the process's CPU time; the returned func
// reports it per op as cpu-ns/op. Call it after setup:
// defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := cpuNow(b)
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuNow(b)-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
