package anonauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/mails"
	"github.com/pocketbase/pocketbase/tools/mailer"

	"github.com/pocketguest/pocketguest/anonauth"
)

func post(t testing.TB, h http.Handler, url, body, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// noMailFor waits a little (PocketBase sends in the background) and fails
// if any message went to address.
func noMailFor(t testing.TB, msgs []*mailer.Message, address string) {
	t.Helper()
	for _, m := range msgs {
		for _, to := range append(append(m.To, m.Cc...), m.Bcc...) {
			if strings.EqualFold(to.Address, address) {
				t.Fatalf("a mail (%q) was sent to the placeholder %s", m.Subject, address)
			}
		}
	}
}

// TestNoMailToPlaceholders: password reset, verification and OTP requests
// for a guest answer like an unknown email and send nothing; an email
// change is refused; a regular user still gets every mail (the control).
func TestNoMailToPlaceholders(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	users, _ := app.FindCollectionByNameOrId("users")
	users.OTP.Enabled = true
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
	h := serve(t, app)
	guest, guestTok := guestToken(t, app, "users")
	placeholder := guest.Email()

	cases := []struct {
		name, url, body string
		status          int
	}{
		{"password reset", "/api/collections/users/request-password-reset", `{"email":"%s"}`, http.StatusNoContent},
		{"verification", "/api/collections/users/request-verification", `{"email":"%s"}`, http.StatusNoContent},
		{"otp", "/api/collections/users/request-otp", `{"email":"%s"}`, http.StatusOK},
	}
	for _, c := range cases {
		// Control: a regular, unverified user gets the mail.
		app.TestMailer.Reset()
		rec := post(t, h, c.url, strings.Replace(c.body, "%s", "test@example.com", 1), "")
		if rec.Code != c.status {
			t.Fatalf("%s for a user: %d %s", c.name, rec.Code, rec.Body)
		}
		waitMails(t, app, 1) // (test@example.com is unverified)

		// A guest: same status and body shape, no mail.
		app.TestMailer.Reset()
		rec = post(t, h, c.url, strings.Replace(c.body, "%s", placeholder, 1), "")
		if rec.Code != c.status {
			t.Fatalf("%s for a guest: want %d like an unknown email, got %d %s", c.name, c.status, rec.Code, rec.Body)
		}
		if c.name == "otp" && !strings.Contains(rec.Body.String(), `"otpId"`) {
			t.Fatalf("otp for a guest must answer an otpId like an unknown email: %s", rec.Body)
		}
		time.Sleep(50 * time.Millisecond)
		if n := app.TestMailer.TotalSend(); n != 0 {
			t.Fatalf("%s for a guest sent %d mails", c.name, n)
		}
	}

	// Email change: refused for a guest (upgrade is the way), allowed for a user.
	rec := post(t, h, "/api/collections/users/request-email-change", `{"newEmail":"real@example.org"}`, guestTok)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "upgrade") {
		t.Fatalf("email change for a guest: %d %s", rec.Code, rec.Body)
	}
	_, userTok := userToken(t, app, "test2@example.com")
	app.TestMailer.Reset()
	if rec := post(t, h, "/api/collections/users/request-email-change", `{"newEmail":"real2@example.org"}`, userTok); rec.Code != http.StatusNoContent {
		t.Fatalf("email change for a user: %d %s", rec.Code, rec.Body)
	}
	waitMails(t, app, 1)
}

// TestNoMailToPlaceholdersFromCode: Go (or JS) code that sends PocketBase's
// record mails or its own mail to a guest sends nothing to the placeholder.
func TestNoMailToPlaceholdersFromCode(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	guest, _ := guestToken(t, app, "users")

	for name, send := range map[string]func() error{
		"password reset": func() error { return mails.SendRecordPasswordReset(app, guest) },
		"verification":   func() error { return mails.SendRecordVerification(app, guest) },
		"otp":            func() error { return mails.SendRecordOTP(app, guest, "otpid", "123456") },
		"auth alert":     func() error { return mails.SendRecordAuthAlert(app, guest, "a new device") },
	} {
		if err := send(); err != nil {
			t.Fatalf("%s: a dropped mail must not be an error: %v", name, err)
		}
	}
	if n := app.TestMailer.TotalSend(); n != 0 {
		t.Fatalf("record mails to a guest: %d sent", n)
	}

	// An app's own mail: the placeholder is removed, other recipients kept.
	msg := &mailer.Message{
		From:    mail.Address{Address: "shop@example.org"},
		To:      []mail.Address{{Address: guest.Email()}, {Address: "owner@example.org"}},
		Subject: "Your cart",
		HTML:    "<p>hi</p>",
	}
	if err := app.NewMailClient().Send(msg); err != nil {
		t.Fatal(err)
	}
	if n := app.TestMailer.TotalSend(); n != 1 {
		t.Fatalf("the mail to the other recipient must go: %d sent", n)
	}
	noMailFor(t, app.TestMailer.Messages(), guest.Email())

	// A mail with only the placeholder is not sent at all.
	only := &mailer.Message{From: msg.From, To: []mail.Address{{Address: guest.Email()}}, Subject: "x", HTML: "x"}
	if err := app.NewMailClient().Send(only); err != nil {
		t.Fatal(err)
	}
	if n := app.TestMailer.TotalSend(); n != 1 {
		t.Fatalf("a mail to the placeholder alone was sent: %d", n)
	}

	// Once upgraded, the record is a regular account again: mails go.
	user, _ := app.FindAuthRecordByEmail("users", "test@example.com")
	if err := mails.SendRecordPasswordReset(app, user); err != nil {
		t.Fatal(err)
	}
	if n := app.TestMailer.TotalSend(); n != 2 {
		t.Fatalf("a regular user's mail was dropped: %d", n)
	}
}
