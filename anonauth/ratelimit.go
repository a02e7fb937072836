package anonauth

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// limiterShards splits the limiter's map so concurrent sign-ins from
// different clients rarely contend on one mutex.
const limiterShards = 32

// evictSample is how many entries an eviction looks at to pick its victim.
const evictSample = 8

// ipLimiter is a per-client rate limiter with bounded memory: at most maxIPs
// clients are tracked at once.
//
// Algorithm: GCRA (the "virtual scheduling" form of a token bucket). Each
// client is one int64, its theoretical arrival time (tat): a sign-in is
// allowed when tat - now <= window - interval, and moves tat forward by one
// interval (window/events). That is exactly a bucket of `events` tokens
// refilled one per interval: 30 sign-ins at once, then one every 2 s.
//
// Client: an IPv4 address, or the /64 network of an IPv6 address. A /64 is
// what one customer line, one VM or one phone gets; limiting single IPv6
// addresses would let anyone with a /64 (2^64 addresses) rotate through the
// limit for free.
//
// Memory: map[[16]byte]int64 shards, no pointers (the GC never scans them),
// 55-70 bytes per client, measured by TestLimiterMemoryIsBounded (70 at
// 100,000 tracked, 55 at 10^6; docs/lifecycle.md states the same). An
// entry whose tat has passed is indistinguishable from no entry, so
// forgetting it loses nothing; a full shard first drops those (a sweep, at
// most once a second), then the sampled entry closest to expiry. That is a
// one-shot client of a flood, never one that is being limited: an attacker
// flooding with fresh addresses cannot reset a limited client's bucket
// unless every sampled entry is more loaded than the client.
type ipLimiter struct {
	interval  int64 // ns between sign-ins at the sustained rate
	tolerance int64 // ns: how far tat may run ahead of now (the burst)
	perShard  int
	seed      maphash.Seed
	shards    [limiterShards]limiterShard
	now       func() time.Time // replaced in tests
}

type limiterShard struct {
	mu        sync.Mutex
	tats      map[clientKey]int64
	lastSweep int64
}

// clientKey is an IPv4 address (v4-mapped), an IPv6 /64 (host bits zero),
// or, for a RealIP that is not an IP at all, a hash of it.
type clientKey [16]byte

func newIPLimiter(events int, window time.Duration, maxIPs int) *ipLimiter {
	perShard := maxIPs / limiterShards
	if perShard < 1 {
		perShard = 1
	}
	interval := int64(window) / int64(events)
	if interval < 1 {
		interval = 1
	}
	l := &ipLimiter{
		interval:  interval,
		tolerance: int64(window) - interval,
		perShard:  perShard,
		seed:      maphash.MakeSeed(),
		now:       time.Now,
	}
	for i := range l.shards {
		l.shards[i].tats = make(map[clientKey]int64)
	}
	return l
}

// key maps a client IP to its limiter key.
func (l *ipLimiter) key(ip string) clientKey {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		var k clientKey
		binary.LittleEndian.PutUint64(k[8:], maphash.String(l.seed, ip))
		return k
	}
	addr = addr.Unmap().WithZone("")
	k := clientKey(addr.As16())
	if addr.Is6() {
		clear(k[8:]) // the /64
	}
	return k
}

// reserve takes one sign-in for ip. It returns 0 when allowed, or how long
// until the next sign-in would be. A refused sign-in takes nothing.
func (l *ipLimiter) reserve(ip string) time.Duration {
	now := l.now().UnixNano()
	k := l.key(ip)
	shard := &l.shards[maphash.Bytes(l.seed, k[:])%limiterShards]

	shard.mu.Lock()
	defer shard.mu.Unlock()

	tat, tracked := shard.tats[k]
	if !tracked || tat < now {
		tat = now
	}
	if ahead := tat - now; ahead > l.tolerance {
		return time.Duration(ahead - l.tolerance)
	}
	if !tracked && len(shard.tats) >= l.perShard {
		shard.evict(now, l.perShard)
	}
	shard.tats[k] = tat + l.interval
	return 0
}

// evict makes room for one entry in a full shard (see ipLimiter).
func (s *limiterShard) evict(now int64, max int) {
	if now-s.lastSweep >= int64(time.Second) {
		s.lastSweep = now
		for k, tat := range s.tats {
			if tat <= now {
				delete(s.tats, k)
			}
		}
		if len(s.tats) < max {
			return
		}
	}

	var victim clientKey
	best, seen := int64(0), 0
	for k, tat := range s.tats { // map order is random: a random sample
		if seen == 0 || tat < best {
			victim, best = k, tat
		}
		if seen++; seen == evictSample {
			break
		}
	}
	delete(s.tats, victim)
}

// size returns how many clients are tracked (for tests and the memory figure).
func (l *ipLimiter) size() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].tats)
		l.shards[i].mu.Unlock()
	}
	return n
}

// allow applies the per-IP sign-in limit (a no-op when it is disabled).
func (p *Plugin) allow(ip string) error {
	if p.limiter == nil {
		return nil
	}
	if delay := p.limiter.reserve(ip); delay > 0 {
		return errRateLimited(delay)
	}
	return nil
}
