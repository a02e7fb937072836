//go:build unix

package anonauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPowVerify is the server's CPU cost of checking one proof-of-work
// solution: key derivation, base64+JSON decode, SHA-256, HMAC, salt parse
// and the replay ledger (the target is ≤ 50 µs).
//
// Besides ns/op (wall time, which on a shared machine includes the time the
// process waits for a core), it reports cpu-ns/op: the process's user+system
// CPU time over the timed loop, per verify — the server CPU a check costs.
//
//	go test ./anonauth -run '^$' -bench PowVerify -benchtime 20000x
func BenchmarkPowVerify(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	secret := "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd" // like an auth token secret
	key := challengeKey(secret)

	// Distinct solved challenges, so every spend is a fresh ledger entry.
	payloads := make([]string, b.N)
	for i := range payloads {
		c, err := newPowChallenge(key, "pbc_users", 100, now, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = solveForBench(b, c)
	}
	ledger := newReplayLedger(b.N + 1)

	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPU(b)
	for i := range b.N {
		params, err := verifyPowPayload(challengeKey(secret), payloads[i], now)
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := ledger.spend(params.Hash, params.Expires, now); !ok || err != nil {
			b.Fatal("spend", ok, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b)-cpuStart)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user+system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func solveForBench(b *testing.B, c *powChallenge) string {
	for n := 0; n <= c.MaxNumber; n++ {
		sum := sha256.Sum256([]byte(c.Salt + strconv.Itoa(n)))
		if hex.EncodeToString(sum[:]) == c.Challenge {
			raw, _ := json.Marshal(map[string]any{"algorithm": c.Algorithm, "challenge": c.Challenge, "number": n, "salt": c.Salt, "signature": c.Signature})
			return base64.StdEncoding.EncodeToString(raw)
		}
	}
	b.Fatal("unsolvable")
	return ""
}
