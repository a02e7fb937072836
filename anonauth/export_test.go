package anonauth

import (
	"time"

	"github.com/pocketbase/pocketbase/core"
)

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
	if p.challenge == nil {
		return // off
	}
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

// IssuePowChallenge returns a new proof-of-work challenge of collection, as
// the anonymous-challenge endpoint would (JSON-decoded).
func IssuePowChallenge(p *Plugin, app core.App, collection string, maxNumber int) map[string]any {
	col, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		panic(err)
	}
	c, err := newPowChallenge(challengeKey(col.AuthToken.Secret), col.Id, maxNumber, p.challenge.now(), p.challenge.config.TTL)
	if err != nil {
		panic(err)
	}
	return map[string]any{"algorithm": c.Algorithm, "challenge": c.Challenge, "maxnumber": c.MaxNumber, "salt": c.Salt, "signature": c.Signature}
}

// SpentSolutions is how many solutions the replay ledger holds.
func SpentSolutions(p *Plugin) int { return p.challenge.ledger.len() }
