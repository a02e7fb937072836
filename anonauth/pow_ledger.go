package anonauth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// replayLedger remembers the proof-of-work solutions already used, so each
// one signs in once.
//
// Bounded memory: at most max entries (a 32-byte hash and an int64 each,
// ~80 bytes with the map's overhead). An entry is needed only until its
// challenge expires — after that the expiry check refuses the solution
// anyway — so it is dropped then. When the ledger is full of live entries
// it refuses new solutions (errLedgerFull, a 503) rather than forget a live
// one, which would reopen it to replay: a full ledger means max solved
// challenges within one challenge lifetime, a flood the operator should see.
//
// It lives in memory only. A restart empties it; that reopens nothing,
// because challenges issued before the start are refused (see
// Plugin.checkPow), so no solution can be used a second time after it.
type replayLedger struct {
	mu        sync.Mutex
	spent     map[[sha256.Size]byte]int64 // challenge hash → expiry (unix ns)
	max       int
	lastSweep int64
}

func newReplayLedger(max int) *replayLedger {
	return &replayLedger{spent: make(map[[sha256.Size]byte]int64), max: max}
}

// spend records hash as used until expires. It reports false if hash was
// already used (a replay) and errLedgerFull if there is no room.
func (l *replayLedger) spend(hash [sha256.Size]byte, expires, now time.Time) (bool, error) {
	nowNs := now.UnixNano()

	l.mu.Lock()
	defer l.mu.Unlock()

	if exp, ok := l.spent[hash]; ok && exp >= nowNs {
		return false, nil
	}
	if len(l.spent) >= l.max {
		// A sweep is O(n); once a second at most, so a full ledger under a
		// flood costs one scan per second, not one per request.
		if nowNs-l.lastSweep >= int64(time.Second) {
			l.lastSweep = nowNs
			for h, exp := range l.spent {
				if exp < nowNs {
					delete(l.spent, h)
				}
			}
		}
		if len(l.spent) >= l.max {
			return false, errLedgerFull
		}
	}
	l.spent[hash] = expires.UnixNano()
	return true, nil
}

// len is the number of entries held (tests).
func (l *replayLedger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.spent)
}
