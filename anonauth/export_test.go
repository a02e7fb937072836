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

// SetChallengeClock replaces the clock of the bot protection (challenge
// issue, expiry, replay ledger) and restarts it at now().
func SetChallengeClock(p *Plugin, now func() time.Time) {
	p.challenge.now = now
	p.challenge.started = now()
}

// SimulateRestart makes the bot protection behave as if the process had
// started at t: an empty replay ledger, and challenges issued before t
// refused.
func SimulateRestart(p *Plugin, t time.Time) {
	p.challenge.started = t
	p.challenge.ledger = newReplayLedger(p.challenge.config.MaxSpent)
}
