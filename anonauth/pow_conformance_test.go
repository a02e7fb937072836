package anonauth

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPowMatchesAltchaLib checks the proof-of-work challenge against the
// reference implementation, npm altcha-lib 2.8 (its "v1" API, the format
// the altcha widget submits), in both directions:
//
//   - challenges we issue are solved by altcha-lib's solver and pass both
//     altcha-lib's verifySolution and ours;
//   - challenges altcha-lib creates with the same key, solved or tampered
//     with, get the same verdict from us as from altcha-lib.
//
// Needs node and npm (skipped locally without them; a failure in CI).
func TestPowMatchesAltchaLib(t *testing.T) {
	refDir, _ := filepath.Abs("testdata/altcharef")

	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are required for the altcha-lib reference test in CI (node: %v, npm: %v)", nodeErr, npmErr)
		}
		t.Skipf("SKIPPED: node/npm not installed, cannot compare against npm altcha-lib (node: %v, npm: %v)", nodeErr, npmErr)
	}
	if _, err := os.Stat(filepath.Join(refDir, "node_modules", "altcha-lib")); err != nil {
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = refDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s failed: %v\n%s", refDir, err, out)
		}
	}

	key := challengeKey("a collection's auth token secret")
	// Real time: altcha-lib checks expiry against Date.now(). Every expiry
	// below is an hour or more away from now, so no timing can flip it.
	now := time.Now()

	var ours []*powChallenge
	for range 3 {
		c, err := newPowChallenge(key, "col123", 3000, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, c)
	}
	in, _ := json.Marshal(map[string]any{"key": string(key), "ours": ours})

	cmd := exec.Command(node, "ref.mjs")
	cmd.Dir = refDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node ref.mjs: %v\n%s", err, stderr.String())
	}
	var out struct {
		Ours []struct {
			Payload  string `json:"payload"`
			Verified bool   `json:"verified"`
		} `json:"ours"`
		Theirs []struct {
			Name     string `json:"name"`
			Payload  string `json:"payload"`
			Verified bool   `json:"verified"`
		} `json:"theirs"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("bad reference output: %v\n%s", err, raw)
	}

	if len(out.Ours) != len(ours) {
		t.Fatalf("altcha-lib solved %d of our %d challenges", len(out.Ours), len(ours))
	}
	for i, o := range out.Ours {
		if !o.Verified {
			t.Errorf("our challenge %d: altcha-lib's verifySolution refuses it", i)
		}
		params, err := verifyPowPayload(key, o.Payload, now)
		if err != nil {
			t.Errorf("our challenge %d, solved by altcha-lib: we refuse it: %v", i, err)
			continue
		}
		if params.Collection != "col123" || params.Expires.Unix() != now.Add(time.Hour).Unix() || params.Issued.Unix() != now.Unix() {
			t.Errorf("our challenge %d: salt parameters not read back: %+v", i, params)
		}
	}

	accepted, refused := 0, 0
	for _, c := range out.Theirs {
		t.Run(c.Name, func(t *testing.T) {
			_, err := verifyPowPayload(key, c.Payload, now)
			if got := err == nil; got != c.Verified {
				t.Fatalf("altcha-lib says verified=%v, we say %v (err: %v)", c.Verified, got, err)
			}
		})
		if c.Verified {
			accepted++
		} else {
			refused++
		}
	}
	// The case list must exercise both verdicts, or agreeing proves nothing.
	if accepted < 3 || refused < 8 {
		t.Fatalf("reference cases: %d accepted, %d refused; expected the full case list", accepted, refused)
	}
}
