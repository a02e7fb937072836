package anonauth

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// FuzzLimiterKey: any RealIP string (PocketBase takes it from a trusted
// proxy header when configured, so it can be anything) maps to a key
// without panicking, and the same client always to the same key.
func FuzzLimiterKey(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "::ffff:203.0.113.7", "2001:db8::1", "fe80::1%eth0", "fe80::1%", "[::1]", "::",
		"0.0.0.0", "255.255.255.255", "1.2.3", "1.2.3.4.5", "01.02.03.04", "", " ", "\x00", "unknown",
		"203.0.113.7, 198.51.100.1", "2001:db8::1%" + string(make([]byte, 300)),
	} {
		f.Add(s)
	}
	l := newIPLimiter(30, time.Minute, 1000)
	f.Fuzz(func(t *testing.T, ip string) {
		if l.key(ip) != l.key(ip) {
			t.Fatalf("%q: unstable key", ip)
		}
		if addr, err := netip.ParseAddr(ip); err == nil && addr.Is4In6() {
			if l.key(ip) != l.key(addr.Unmap().String()) {
				t.Fatalf("%q: a v4-mapped address must share its IPv4 bucket", ip)
			}
		}
		l.reserve(ip)
		if l.size() > 1000 {
			t.Fatalf("tracked %d > 1000", l.size())
		}
	})
}

// TestFloodOfDistinctClientsStaysBounded complements TestLimiterMemoryIsBounded
// (10^6 IPv4 addresses): 10^6 distinct IPv6 /64 networks and 10^6
// non-address strings through Plugin.allow, with the default bound. The
// tracked count stays at MaxTrackedIPs, the heap growth is measured (see
// RELIABILITY.md), and a client being limited stays limited.
func TestFloodOfDistinctClientsStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10^6-request flood")
	}
	for _, kind := range []string{"ipv6 /64s", "non-IP strings"} {
		t.Run(kind, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			// A frozen clock: the flood takes seconds on a loaded machine, and
			// GCRA would rightly refill the limited client's bucket meanwhile.
			p := &Plugin{config: Config{}.withDefaults()}
			p.limiter, _ = newTestLimiter(p.config.RateLimit, p.config.MaxTrackedIPs)
			for i := 0; i < 30; i++ {
				if err := p.allow("198.51.100.1"); err != nil {
					t.Fatal(err)
				}
			}
			const flood = 1_000_000
			for i := 0; i < flood; i++ {
				var ip string
				if kind == "ipv6 /64s" {
					ip = fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
				} else {
					ip = fmt.Sprintf("client-%d", i)
				}
				_ = p.allow(ip)
			}

			runtime.GC()
			runtime.ReadMemStats(&after)
			size := p.limiter.size()
			grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("10^6 %s: %d tracked (bound %d), heap +%.1f MB (%d bytes per tracked client)",
				kind, size, p.config.MaxTrackedIPs, float64(grown)/1e6, grown/int64(size))
			if size > p.config.MaxTrackedIPs {
				t.Fatalf("tracked %d, bound %d", size, p.config.MaxTrackedIPs)
			}
			if grown > 20<<20 {
				t.Fatalf("heap grew %d bytes for a bound of %d clients", grown, p.config.MaxTrackedIPs)
			}
			if p.allow("198.51.100.1") == nil {
				t.Fatal("the flood reset a limited client's bucket")
			}
			runtime.KeepAlive(p)
		})
	}
}
