package jsvm

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pocketguest/pocketguest/anonauth"
)

// TestUpgradeByCodeJS: requestUpgradeOTP(e, email) mails a code (captured by
// the test mailer), confirmUpgradeOTP(e, otpId, code) turns the guest into a
// verified account in place; errors are thrown with status and message.
func TestUpgradeByCodeJS(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})
	users, _ := f.app.FindCollectionByNameOrId("users")
	users.OTP.Enabled = true
	users.MFA.Enabled = false
	users.OTP.EmailTemplate.Body = "code={OTP}"
	if err := f.app.Save(users); err != nil {
		t.Fatal(err)
	}

	guest := f.newGuest(t) // loaded with the OTP settings above
	f.event(guest)
	otpId := f.run(t, `requestUpgradeOTP(e, "hooks@example.org").otpId`).String()
	msg := f.app.TestMailer.LastMessage()
	m := regexp.MustCompile(`code=(\d+)`).FindStringSubmatch(msg.HTML)
	if m == nil || len(msg.To) != 1 || msg.To[0].Address != "hooks@example.org" {
		t.Fatalf("mail to %v: %q", msg.To, msg.HTML)
	}

	_, rec := f.event(guest)
	f.vm.Set("otpId", otpId)
	f.vm.Set("code", m[1])
	got := f.run(t, `const r = confirmUpgradeOTP(e, otpId, code);
		[r.record.id, r.record.get("isAnonymous"), r.record.verified(), r.record.email(), e.auth.id].join("|")`).String()
	if got != guest.Id+"|false|true|hooks@example.org|"+guest.Id {
		t.Fatalf("got %q", got)
	}
	if c := rec.Result().Header.Get("Set-Cookie"); !strings.HasPrefix(c, anonauth.CookieName+"=") {
		t.Fatalf("no pb_auth cookie: %q", c)
	}

	for _, c := range []struct{ script, want string }{
		{`requestUpgradeOTP(e, "not-an-email")`, "422|"},
		{`requestUpgradeOTP(e, 42)`, "400|"},
		{`confirmUpgradeOTP(e, "nope", "12345678")`, "400|Invalid or expired OTP"},
	} {
		f.event(f.newGuest(t))
		got := f.run(t, `(() => { try { `+c.script+`; return "no error" } catch (err) { return err.status + "|" + err.message } })()`).String()
		if !strings.HasPrefix(got, c.want) {
			t.Fatalf("%s: got %q, want %q…", c.script, got, c.want)
		}
	}
}
