package anonauth

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestLimiter(events, maxIPs int) (*ipLimiter, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newIPLimiter(events, time.Minute, maxIPs)
	l.now = clock.now
	return l, clock
}

func TestLimiterBurstAndRefill(t *testing.T) {
	l, clock := newTestLimiter(30, 1000)

	for i := 1; i <= 30; i++ {
		if d := l.reserve("203.0.113.7"); d != 0 {
			t.Fatalf("sign-in %d refused (retry in %v)", i, d)
		}
	}
	if d := l.reserve("203.0.113.7"); d != 2*time.Second {
		t.Fatalf("31st sign-in: want a 2s wait, got %v", d)
	}
	// Refused attempts take nothing: hammering does not push the wait out.
	for i := 0; i < 100; i++ {
		l.reserve("203.0.113.7")
	}
	clock.advance(1999 * time.Millisecond)
	if d := l.reserve("203.0.113.7"); d != time.Millisecond {
		t.Fatalf("want 1ms left, got %v", d)
	}
	clock.advance(time.Millisecond)
	if d := l.reserve("203.0.113.7"); d != 0 {
		t.Fatalf("a token must be back after 2s, got wait %v", d)
	}
	if d := l.reserve("203.0.113.7"); d != 2*time.Second {
		t.Fatalf("and only one: got %v", d)
	}

	// After a quiet minute the full burst is back.
	clock.advance(time.Minute)
	for i := 1; i <= 30; i++ {
		if d := l.reserve("203.0.113.7"); d != 0 {
			t.Fatalf("after a minute, sign-in %d refused", i)
		}
	}
}

func TestLimiterKeys(t *testing.T) {
	l, _ := newTestLimiter(1, 1000)
	same := [][2]string{
		{"203.0.113.7", "::ffff:203.0.113.7"},            // v4-mapped
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff::9"}, // same /64
		{"fe80::1%eth0", "fe80::2"},                      // zone ignored, same /64
	}
	for _, pair := range same {
		if l.key(pair[0]) != l.key(pair[1]) {
			t.Fatalf("%s and %s must share a bucket", pair[0], pair[1])
		}
	}
	different := [][2]string{
		{"203.0.113.7", "203.0.113.8"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"not-an-ip", "also-not-an-ip"},
	}
	for _, pair := range different {
		if l.key(pair[0]) == l.key(pair[1]) {
			t.Fatalf("%s and %s must not share a bucket", pair[0], pair[1])
		}
	}

	// One IPv6 /64 cannot rotate addresses around the limit.
	if l.reserve("2001:db8::1") != 0 || l.reserve("2001:db8::2") == 0 {
		t.Fatal("a second address of the same /64 must be limited")
	}
}

func ipv4(i int) string {
	return netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}).String()
}

// TestLimiterMemoryIsBounded: a flood of 10^6 distinct IPs keeps at most
// MaxTrackedIPs entries, a client that is being limited stays limited
// through the flood, and the memory figure is measured (docs/lifecycle.md).
func TestLimiterMemoryIsBounded(t *testing.T) {
	for _, maxIPs := range []int{100_000, 1_000_000} {
		t.Run(fmt.Sprint(maxIPs), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			l, _ := newTestLimiter(30, maxIPs)
			for i := 0; i < 30; i++ {
				l.reserve("198.51.100.1")
			}
			const flood = 1_000_000
			for i := 0; i < flood; i++ {
				l.reserve(ipv4(0x0a000000 + i)) // 10.0.0.0 + i, all distinct
			}

			runtime.GC()
			runtime.ReadMemStats(&after)
			size := l.size()
			bytes := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("10^6 distinct IPs, MaxTrackedIPs %d: %d tracked, heap %.1f MB (%d bytes per tracked IP)",
				maxIPs, size, float64(bytes)/1e6, bytes/int64(size))

			if size > maxIPs {
				t.Fatalf("tracked %d IPs, bound is %d", size, maxIPs)
			}
			if perIP := bytes / int64(size); perIP > 150 {
				t.Fatalf("%d bytes per tracked IP, expected well under 150", perIP)
			}
			if l.reserve("198.51.100.1") == 0 {
				t.Fatal("the flood reset a limited client's bucket")
			}
			runtime.KeepAlive(l)
		})
	}
}

// TestLimiterConcurrent (run with -race): concurrent sign-ins from a few IPs
// with a frozen clock get exactly the burst each, never more, while one-shot
// noise forces evictions (16 entries per shard).
func TestLimiterConcurrent(t *testing.T) {
	l, _ := newTestLimiter(30, 16*limiterShards)
	// Two sign-ins each first: a hot IP is then always more loaded than a
	// one-shot entry, so eviction never picks it (see evict).
	for i := 0; i < 4; i++ {
		l.reserve(ipv4(0xc0000200 + i))
		l.reserve(ipv4(0xc0000200 + i))
	}
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				ip := ipv4(0xc0000200 + i%4) // 4 hot IPs
				if i%10 == 0 {
					ip = ipv4(0x0b000000 + g*100000 + i) // plus one-shot noise
				}
				if l.reserve(ip) == 0 && i%10 != 0 {
					mu.Lock()
					allowed[ip]++
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	for ip, n := range allowed {
		if n != 28 {
			t.Fatalf("%s: %d more sign-ins allowed with a frozen clock, want exactly 28", ip, n)
		}
	}
	if l.size() > 16*limiterShards {
		t.Fatalf("tracked %d, bound %d", l.size(), 16*limiterShards)
	}
}
