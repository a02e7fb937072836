package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// TestOfficialJSSDK drives the real server with the official `pocketbase`
// npm SDK (testdata/sdk/flow.mjs): what an SPA or mobile client does, end to
// end. Needs node (skipped locally without it; a failure in CI).
func TestOfficialJSSDK(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("testdata", "sdk"))
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: node is required for the JS SDK test")
		}
		t.Skip("node not found: skipping the official JS SDK test")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pocketbase")); err != nil {
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}

	s, err := startServer("--anonRateLimit", "0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()

	cmd := exec.Command("node", "flow.mjs", s.URL)
	cmd.Dir = dir
	raw, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("flow.mjs: %v\n%s\nserver log:\n%s", err, stderr, s.log.String())
	}

	var got struct {
		GuestId             string   `json:"guestId"`
		GuestIsAnonymous    bool     `json:"guestIsAnonymous"`
		AuthStoreValid      bool     `json:"authStoreValid"`
		RefreshSameId       bool     `json:"refreshSameId"`
		CartItemId          string   `json:"cartItemId"`
		GuestPaymentStatus  int      `json:"guestPaymentStatus"`
		ForgeFlagStatus     int      `json:"forgeFlagStatus"`
		ShortPasswordStatus int      `json:"shortPasswordStatus"`
		UpgradeSameId       bool     `json:"upgradeSameId"`
		UpgradedIsAnonymous bool     `json:"upgradedIsAnonymous"`
		UpgradedEmail       string   `json:"upgradedEmail"`
		OldTokenStatus      int      `json:"oldTokenStatus"`
		UpgradeAgainStatus  int      `json:"upgradeAgainStatus"`
		CartKept            bool     `json:"cartKept"`
		AccountPaymentOk    bool     `json:"accountPaymentOk"`
		EmailInUseStatus    int      `json:"emailInUseStatus"`
		MergeAccountId      string   `json:"mergeAccountId"`
		MergedCart          []string `json:"mergedCart"`
		ExpectedMergedCart  []string `json:"expectedMergedCart"`
		Guest2Id            string   `json:"guest2Id"`
		Guest3Id            string   `json:"guest3Id"`
		DeletedRefresh      int      `json:"deletedRefreshStatus"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("flow output: %v\n%s", err, raw)
	}
	t.Logf("SDK flow: %s", raw)

	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s (flow output: %s)", name, raw)
		}
	}
	check("guest is anonymous in the SDK auth store", got.GuestIsAnonymous && got.AuthStoreValid)
	check("authRefresh keeps the guest", got.RefreshSameId)
	check("a guest may not save a payment method (rule)", got.GuestPaymentStatus == 400)
	check("a guest may not flip its flag (update rule → 404)", got.ForgeFlagStatus == 404)
	check("short password → 422", got.ShortPasswordStatus == 422)
	check("upgrade keeps the id and clears the flag", got.UpgradeSameId && !got.UpgradedIsAnonymous && got.UpgradedEmail != "")
	check("the pre-upgrade token is dead", got.OldTokenStatus == 401)
	check("upgrading a full account → 400", got.UpgradeAgainStatus == 400)
	check("the cart survives the upgrade", got.CartKept)
	check("the account may save a payment method", got.AccountPaymentOk)
	check("email in use → 409", got.EmailInUseStatus == 409)
	check("signing in merges into the account", got.MergeAccountId == got.GuestId)
	check("the merged cart holds both guests' items", reflect.DeepEqual(got.MergedCart, got.ExpectedMergedCart))
	check("a deleted guest's session is dead", got.DeletedRefresh == 401)

	// And the database agrees.
	if _, found := s.mustRecord(t, "users", got.Guest2Id); found {
		t.Error("the merged guest must be deleted")
	}
	if _, found := s.mustRecord(t, "users", got.Guest3Id); found {
		t.Error("the self-deleted guest must be gone")
	}
}
