package e2e

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestSaveAccountWithEmailedCode: a guest orders, clicks "Email me a code"
// on the confirmation page, and follows the link of the mail the server
// really sent (over SMTP, to a capturing server): one click on Confirm and
// the guest is a full, verified account, same record, same orders.
func TestSaveAccountWithEmailedCode(t *testing.T) {
	s := requireEnv(t)
	sink := newSMTPSink(t)
	s.useSMTPSink(t, sink)
	// The mail's link is {APP_URL}/save-by-code?...: this server's URL.
	if status, err := s.api(http.MethodPatch, "/api/settings", map[string]any{"meta": map[string]any{"appURL": s.URL}}, nil); err != nil || status != http.StatusOK {
		t.Fatalf("appURL: %d %v", status, err)
	}

	p := newVisitor(t, s)
	p.addToCart("field-notebook")
	email := uniqueEmail("ada")
	orderPath := p.checkoutAsGuest("Ada Lovelace", email, "12 Analytical Row, London")
	guest := p.session().record
	if !guest.IsAnonymous {
		t.Fatalf("not a guest: %+v", guest)
	}

	// On the confirmation page, next to "Save your account".
	if p.count(`[data-testid="email-code"]`) != 1 {
		t.Fatalf("no \"Email me a code\" on %s: %s", orderPath, p.text("main"))
	}
	p.submit(`[data-testid="email-code"]`)
	if p.count(`[data-testid="code-confirm-form"]`) != 1 {
		t.Fatalf("after asking for a code (%s): %s", p.path(), p.text("main"))
	}

	mail := sink.waitMail(t, 0, email) // stored decoded (quoted-printable undone)
	link := regexp.MustCompile(`href="([^"]*/save-by-code\?[^"]*)"`).FindStringSubmatch(mail)
	if link == nil {
		t.Fatalf("no one-click link in the mail: %s", mail)
	}
	target := html.UnescapeString(link[1])
	if !strings.HasPrefix(target, s.URL+"/save-by-code?") {
		t.Fatalf("link %q does not point at the shop", target)
	}

	// The link opens the form with the code filled in; nothing changes
	// until Confirm.
	p.open(strings.TrimPrefix(target, s.URL))
	if r, _ := s.mustRecord(t, "users", guest.ID); !r.IsAnonymous {
		t.Fatal("opening the link changed the account (a GET must not)")
	}
	p.submit(`[data-testid="code-confirm"]`)
	if msg := p.text(`[data-testid="flash"]`); !strings.Contains(msg, "account is saved") {
		t.Fatalf("confirm: flash %q, error %q on %s", msg, p.text(`[data-testid="error"]`), p.path())
	}

	after := p.session().record
	if after.ID != guest.ID || after.IsAnonymous || after.Email != email {
		t.Fatalf("cookie after the code: %+v, want the guest %s as %s", after, guest.ID, email)
	}
	var stored struct {
		record
		Verified bool `json:"verified"`
	}
	if status, err := s.api(http.MethodGet, "/api/collections/users/records/"+guest.ID, nil, &stored); err != nil || status != 200 {
		t.Fatalf("reading the account: %d %v", status, err)
	}
	if stored.IsAnonymous || !stored.Verified || stored.Email != email {
		t.Fatalf("stored account: %+v", stored)
	}
	if p.open(orderPath) != 200 || p.count(`[data-testid="order"]`) != 1 {
		t.Fatal("the order must still be the account's")
	}
}
