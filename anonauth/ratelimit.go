package anonauth

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterShards splits the limiter's map so concurrent sign-ins from
// different IPs rarely contend on one mutex.
const limiterShards = 32

// ipLimiter is a per-IP token bucket (golang.org/x/time/rate) with bounded
// memory: at most maxIPs buckets exist at once.
//
// Why dropping a bucket is safe: a bucket that has been idle for a whole
// window is full again, indistinguishable from a new one, so forgetting it
// loses nothing. Only when a shard is full of *active* buckets (a flood from
// more distinct IPs than maxIPs within one window) is an arbitrary active
// bucket evicted; that IP then starts afresh, which bounds memory at the cost
// of precision for an attacker who already controls that many addresses.
type ipLimiter struct {
	limit    rate.Limit
	burst    int
	window   time.Duration
	perShard int
	seed     maphash.Seed
	shards   [limiterShards]limiterShard
	now      func() time.Time // replaced in tests
}

type limiterShard struct {
	mu        sync.Mutex
	buckets   map[string]*ipBucket
	lastSweep time.Time
}

type ipBucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

func newIPLimiter(events int, window time.Duration, maxIPs int) *ipLimiter {
	perShard := maxIPs / limiterShards
	if perShard < 1 {
		perShard = 1
	}
	l := &ipLimiter{
		limit:    rate.Every(window / time.Duration(events)),
		burst:    events,
		window:   window,
		perShard: perShard,
		seed:     maphash.MakeSeed(),
		now:      time.Now,
	}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*ipBucket)
	}
	return l
}

// reserve takes one sign-in from ip's bucket. It returns 0 when allowed, or
// how long until the next sign-in would be.
func (l *ipLimiter) reserve(ip string) time.Duration {
	now := l.now()
	shard := &l.shards[maphash.String(l.seed, ip)%limiterShards]

	shard.mu.Lock()
	defer shard.mu.Unlock()

	b := shard.buckets[ip]
	if b == nil {
		if len(shard.buckets) >= l.perShard {
			shard.evict(now, l.window, l.perShard)
		}
		b = &ipBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		shard.buckets[ip] = b
	}
	b.lastSeen = now

	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now) // a refused sign-in must not use up a future token
		return delay
	}
	return 0
}

// evict makes room for one bucket in a full shard: every bucket idle for a
// whole window goes (full again, nothing lost); if that frees nothing, one
// arbitrary bucket does. The idle sweep walks the whole shard, so under a
// flood it runs at most once a second and the arbitrary eviction covers the
// rest.
func (s *limiterShard) evict(now time.Time, window time.Duration, max int) {
	if now.Sub(s.lastSweep) >= time.Second {
		s.lastSweep = now
		for ip, b := range s.buckets {
			if now.Sub(b.lastSeen) >= window {
				delete(s.buckets, ip)
			}
		}
	}
	for ip := range s.buckets { // map order is random: an arbitrary victim
		if len(s.buckets) < max {
			return
		}
		delete(s.buckets, ip)
	}
}

// size returns how many IPs are tracked (for tests and the memory figure).
func (l *ipLimiter) size() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].buckets)
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
