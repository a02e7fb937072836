package pages_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuPerOp reports the process's CPU time per op (getrusage) as cpu-ns/op
// when the returned func is called: on a shared machine it is steadier than
// ns/op, and it is the bench's CPU/op column measured in process.
func cpuPerOp(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Page render through the real router (middlewares included): a template
// with an include, escaping and a route param.
func BenchmarkPagePlain(b *testing.B) {
	s := newServer(b, testOptions{})
	mustContain(b, s.do("GET", "/", ""), "<h1>Home</h1>")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := s.do("GET", "/", ""); res.status != http.StatusOK {
			b.Fatal(res.status, res.body)
		}
	}
}

func BenchmarkPagePlainParallel(b *testing.B) {
	s := newServer(b, testOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := s.do("GET", "/products/abc?color=red", ""); res.status != http.StatusOK {
				b.Error(res.status, res.body)
				return
			}
		}
	})
}

// A page whose script calls signInAnonymously(): a new guest per request.
func BenchmarkPageSignIn(b *testing.B) {
	s := newServer(b, testOptions{})
	b.ReportAllocs()
	defer cpuPerOp(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := s.do("GET", "/bench-signin", ""); res.status != http.StatusOK || res.authCookie() == "" {
			b.Fatal(res.status, res.body)
		}
	}
}

// The same sign-in through the bare HTTP endpoint, for comparison.
func BenchmarkHTTPSignIn(b *testing.B) {
	s := newServer(b, testOptions{})
	b.ReportAllocs()
	defer cpuPerOp(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := s.do("POST", "/api/collections/customers/auth-anonymously", ""); res.status != http.StatusOK {
			b.Fatal(res.status, res.body)
		}
	}
}

// The same sign-in from a pb_hooks route (the shipped example).
func BenchmarkHookSignIn(b *testing.B) {
	s := newServer(b, testOptions{})
	b.ReportAllocs()
	defer cpuPerOp(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := s.do("POST", "/api/guest/start", `{"collection":"customers"}`, "Content-Type: application/json"); res.status != http.StatusOK || !strings.Contains(res.body, `"isAnonymous":true`) {
			b.Fatal(res.status, res.body)
		}
	}
}
