package anonauth

import "time"

// Internals exported to the external tests (package anonauth_test) only.

// FreezeLimiterClock stops the rate limiter's clock of p at its current
// time and returns a function that moves it forward, so tests of the limit
// never depend on how fast the machine runs them.
func FreezeLimiterClock(p *Plugin) (advance func(time.Duration)) {
	clock := &fakeClock{t: p.limiter.now()}
	p.limiter.now = clock.now
	return clock.advance
}

// LockForWrite is lockForWrite.
var LockForWrite = lockForWrite

// SetClock replaces the plugin's clock (tokens, cookie sessions, activity),
// before the app serves.
func SetClock(p *Plugin, now func() time.Time) {
	p.now = now
}
