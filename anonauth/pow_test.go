package anonauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestPowNumber(t *testing.T) {
	for in, want := range map[string]string{`0`: "0", `12345`: "12345", `"77"`: "77", `"007"`: "007"} {
		if got, ok := powNumber(json.RawMessage(in)); !ok || got != want {
			t.Errorf("powNumber(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	// Not what JS's String(number) would print for the same JSON value, or
	// not a number at all.
	for _, in := range []string{``, `-1`, `1.0`, `1e3`, `007`, `9999999999999999`, `null`, `true`, `{}`, `"unterminated`} {
		if got, ok := powNumber(json.RawMessage(in)); ok {
			t.Errorf("powNumber(%s) accepted as %q", in, got)
		}
	}
}

func TestReplayLedgerBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newReplayLedger(3)
	hash := func(i byte) [32]byte { return sha256.Sum256([]byte{i}) }

	for i := range byte(3) {
		if ok, err := l.spend(hash(i), now.Add(time.Duration(i+1)*time.Minute), now); !ok || err != nil {
			t.Fatalf("spend %d: %v %v", i, ok, err)
		}
	}
	if ok, err := l.spend(hash(0), now.Add(time.Minute), now); ok || err != nil {
		t.Fatalf("replay: %v %v, want refused", ok, err)
	}
	if _, err := l.spend(hash(9), now.Add(time.Minute), now); !errors.Is(err, errLedgerFull) {
		t.Fatalf("full ledger: %v, want errLedgerFull", err)
	}
	// After the first entry's challenge expired, it makes room; the others stay.
	later := now.Add(90 * time.Second)
	if ok, err := l.spend(hash(9), later.Add(time.Minute), later); !ok || err != nil {
		t.Fatalf("after expiry: %v %v", ok, err)
	}
	if l.len() != 3 {
		t.Fatalf("ledger holds %d, want 3 (bounded)", l.len())
	}
	if ok, _ := l.spend(hash(1), now.Add(2*time.Minute), later); ok {
		t.Fatal("a live entry was forgotten")
	}
}

// FuzzPowPayload: no input panics the verifier, and nothing verifies that
// is not a solution of a challenge signed with the key.
func FuzzPowPayload(f *testing.F) {
	key := challengeKey("secret")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c, err := newPowChallenge(key, "col", 50, now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for n := 0; n <= 50; n++ {
		raw, _ := json.Marshal(map[string]any{"algorithm": c.Algorithm, "challenge": c.Challenge, "number": n, "salt": c.Salt, "signature": c.Signature})
		f.Add(base64.StdEncoding.EncodeToString(raw))
	}
	f.Add("")
	f.Add("e30=") // {}
	f.Fuzz(func(t *testing.T, payload string) {
		params, err := verifyPowPayload(key, payload, now)
		if err != nil {
			return
		}
		raw, _ := base64.StdEncoding.DecodeString(payload)
		var p powPayload
		if json.Unmarshal(raw, &p) != nil {
			t.Fatal("verified a payload that is not JSON")
		}
		number, _ := powNumber(p.Number)
		if sha256.Sum256([]byte(p.Salt+number)) != params.Hash || powSign(key, p.Challenge) != p.Signature {
			t.Fatalf("verified an unsigned or unsolved payload: %s", raw)
		}
	})
}
