package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestUpgradeKeepsAccountAndCart saves a guest account in place from the
// banner: same record id, same cart, same orders; errors (password too
// short, email in use) are shown on the page; saving a payment method needs
// the full account.
func TestUpgradeKeepsAccountAndCart(t *testing.T) {
	s := requireEnv(t)
	p := newVisitor(t, s)

	p.addToCart("field-notebook")
	p.addToCart("tiny-monstera")
	orderPath := p.checkoutAsGuest("Grace Hopper", "grace@example.org", "1 Compiler Lane, Arlington")
	p.addToCart("cedar-candle") // something left in the cart after ordering
	guest := p.session().record
	if !guest.IsAnonymous {
		t.Fatalf("not a guest: %+v", guest)
	}

	// A guest may not store a payment method: the collection rule says
	// @request.auth.isAnonymous = false (checked here through the REST API
	// with the page's own cookie session).
	status := p.evalAsync(`fetch('/api/collections/payment_methods/records', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({user: ` + jsString(guest.ID) + `, brand: 'visa', last4: '4242', expiry: '12/29'})}).then(r => String(r.status))`)
	if status != "400" && status != "403" {
		t.Errorf("guest creating a payment method through the API: status %s, want 400/403", status)
	}
	if n := len(s.mustList(t, "payment_methods", "user='"+guest.ID+"'").Items); n != 0 {
		t.Fatalf("guest has %d payment methods", n)
	}

	email := uniqueEmail("grace")

	// Password too short: shown on the page, nothing changed.
	p.open("/")
	p.eval(`document.querySelector('[data-testid="guest-banner"] details').open = true; ''`)
	p.fill("#banner-email", email)
	p.fill("#banner-password", "short")
	p.fill("#banner-password-confirm", "short")
	p.eval(`document.querySelectorAll('[data-testid="banner-upgrade-form"] input').forEach(i => i.removeAttribute('minlength')); ''`)
	p.submit(`[data-testid="banner-upgrade-form"] button[type="submit"]`)
	shown := p.text(`[data-testid="error"]`) + " " + p.text(`.field-error`)
	if !strings.Contains(strings.ToLower(shown), "password") && !strings.Contains(shown, "8") {
		t.Errorf("too-short password: the page (%s) shows %q, want the password rule explained", p.path(), shown)
	}
	if r, _ := s.mustRecord(t, "users", guest.ID); !r.IsAnonymous {
		t.Fatal("a failed upgrade changed the guest")
	}

	// The real thing, from the account page's form.
	p.open("/account")
	p.fill("#up-email", email)
	p.fill("#up-password", "correct horse battery")
	p.fill("#up-confirm", "correct horse battery")
	p.submit(`[data-testid="upgrade-submit"]`)
	if msg := p.text(`[data-testid="flash"]`); !strings.Contains(msg, "account is saved") {
		t.Fatalf("upgrade: flash %q, error %q", msg, p.text(`[data-testid="error"]`))
	}

	after := p.session().record
	if after.ID != guest.ID {
		t.Fatalf("upgrade changed the record id %s → %s", guest.ID, after.ID)
	}
	if after.IsAnonymous || after.Email != email {
		t.Errorf("cookie after upgrade: %+v, want isAnonymous=false email=%s", after, email)
	}
	stored, _ := s.mustRecord(t, "users", guest.ID)
	if stored.IsAnonymous || stored.Email != email {
		t.Errorf("stored user after upgrade: %+v", stored)
	}
	if p.count(`[data-testid="guest-banner"]`) != 0 {
		t.Error("guest banner still shown after upgrade")
	}
	if got := p.cartCount(); got != "1" {
		t.Errorf("cart badge after upgrade %q, want 1 (the candle)", got)
	}
	if status := p.open(orderPath); status != 200 {
		t.Errorf("own order after upgrade: status %d", status)
	}

	// Now a payment method can be saved.
	p.open("/account")
	p.fill("#card-number", "4242 4242 4242 4242")
	p.fill("#card-expiry", "12/29")
	p.submit(`[data-testid="card-submit"]`)
	if n := p.count(`[data-testid="saved-card"]`); n != 1 {
		t.Errorf("saved cards after upgrade: %d, want 1 (error %q)", n, p.text(`[data-testid="error"]`))
	}

	// Another guest cannot take the same email: shown on the page.
	q := newVisitor(t, s)
	q.addToCart("cloud-tee")
	q.open("/account")
	q.fill("#up-email", email)
	q.fill("#up-password", "another long password")
	q.fill("#up-confirm", "another long password")
	q.submit(`[data-testid="upgrade-submit"]`)
	msg := q.text(`[data-testid="error"]`) + " " + q.text(`.field-error`)
	if !strings.Contains(strings.ToLower(msg), "email") {
		t.Errorf("email in use: the page (%s) shows %q, want an error about the email", q.path(), msg)
	}
	if !q.session().record.IsAnonymous {
		t.Error("email in use: the second guest was changed anyway")
	}
}

// TestSignInMergesGuestCart signs in to an existing account while holding a
// guest cart: the account keeps its own cart line and gains the guest's,
// and the guest record is gone.
func TestSignInMergesGuestCart(t *testing.T) {
	s := requireEnv(t)
	email, password := uniqueEmail("linus"), "existing password 123"
	accountID := s.mustCreateUser(t, email, password)
	// The account already has a tee in its cart (from another device).
	var line record
	if status, err := s.api(http.MethodPost, "/api/collections/cart_items/records", map[string]any{
		"user": accountID, "product": s.mustProductID(t, "cloud-tee"), "quantity": 1,
	}, &line); err != nil || status != http.StatusOK {
		t.Fatalf("seeding the account's cart: status %d, %v", status, err)
	}

	p := newVisitor(t, s)
	p.addToCart("sunrise-mug")
	p.addToCart("cloud-tee")
	guest := p.session().record

	p.open("/checkout")
	p.submit(`[data-testid="checkout-sign-in"]`)
	if !strings.HasPrefix(p.path(), "/login") {
		t.Fatalf("Sign in at checkout led to %s", p.path())
	}
	if hint := p.text(`[data-testid="merge-hint"]`); !strings.Contains(hint, "2 items") {
		t.Errorf("merge hint %q, want it to mention the 2 guest items", hint)
	}
	p.fill("#login-email", email)
	p.fill("#login-password", password)
	p.submit(`[data-testid="login-submit"]`)
	if !strings.HasPrefix(p.path(), "/checkout") {
		t.Fatalf("after sign-in: on %s, want /checkout (error %q)", p.path(), p.text(`[data-testid="error"]`))
	}
	if msg := p.text(`[data-testid="flash"]`); !strings.Contains(msg, "moved into your account") {
		t.Errorf("after sign-in: flash %q", msg)
	}

	sess := p.session()
	if sess.record.ID != accountID || sess.record.IsAnonymous {
		t.Fatalf("session after sign-in: %+v, want account %s", sess.record, accountID)
	}
	if _, exists := s.mustRecord(t, "users", guest.ID); exists {
		t.Errorf("guest %s still exists after the merge", guest.ID)
	}
	lines := p.cartLines()
	if lines["cloud-tee"] != "2" || lines["sunrise-mug"] != "1" || len(lines) != 2 {
		t.Errorf("merged cart %v, want cloud-tee:2 (1 + 1) and sunrise-mug:1", lines)
	}
	if n := len(s.mustList(t, "cart_items", "user='"+guest.ID+"'").Items); n != 0 {
		t.Errorf("%d cart rows still point at the deleted guest", n)
	}

	// A wrong password is an error on the page, not a crash.
	q := newVisitor(t, s)
	q.open("/login")
	q.fill("#login-email", email)
	q.fill("#login-password", "wrong password!")
	q.submit(`[data-testid="login-submit"]`)
	if q.text(`[data-testid="error"]`) == "" || q.session().present {
		t.Errorf("wrong password: error %q, session %v", q.text(`[data-testid="error"]`), q.session().present)
	}
}

// TestSecondTabSharesSession: a second tab of the same browser is the same
// guest, and signing out in one tab signs out both.
func TestSecondTabSharesSession(t *testing.T) {
	s := requireEnv(t)
	p := newVisitor(t, s)
	p.addToCart("cedar-candle")
	first := p.session().record

	q := p.secondTab()
	q.open("/cart")
	if lines := q.cartLines(); lines["cedar-candle"] != "1" {
		t.Fatalf("second tab's cart %v, want the candle", lines)
	}
	q.addToCart("stripe-socks")
	if id := q.session().record.ID; id != first.ID {
		t.Fatalf("second tab is guest %s, first is %s", id, first.ID)
	}
	p.open("/cart")
	if got := p.cartCount(); got != "2" {
		t.Errorf("first tab's badge after adding in the second: %q, want 2", got)
	}

	q.open("/logout")
	q.submit(`main form[action="/logout"] button`)
	if q.session().present {
		t.Fatal("second tab still has a session after signing out")
	}
	p.open("/cart")
	if p.session().present || p.cartCount() != "0" || p.count(`[data-testid="cart-empty"]`) != 1 {
		t.Errorf("first tab after signing out in the second: session %v, badge %q", p.session().present, p.cartCount())
	}
}

// TestLogout: a full account signs out with the header button; the cookie
// is gone and the header offers Sign in again. A guest signs out from
// /logout.
func TestLogout(t *testing.T) {
	s := requireEnv(t)
	email, password := uniqueEmail("ken"), "logout password 1"
	s.mustCreateUser(t, email, password)

	p := newVisitor(t, s)
	p.open("/login")
	p.fill("#login-email", email)
	p.fill("#login-password", password)
	p.submit(`[data-testid="login-submit"]`)
	if got := p.text(`[data-testid="account-link"]`); got != email {
		t.Fatalf("after sign-in the header shows %q, want %s (error %q)", got, email, p.text(`[data-testid="error"]`))
	}
	p.submit(`[data-testid="sign-out"]`)
	if msg := p.text(`[data-testid="flash"]`); msg != "You are signed out." {
		t.Errorf("flash %q", msg)
	}
	if p.session().present {
		t.Error("pb_auth cookie still set after sign out")
	}
	if p.count(`a[href^="/login"]`) == 0 || p.count(`[data-testid="account-link"]`) != 0 {
		t.Error("header still shows the account after sign out")
	}
	p.open("/account")
	if !strings.HasPrefix(p.path(), "/login") {
		t.Errorf("/account after sign out: on %s, want the sign-in page", p.path())
	}

	g := newVisitor(t, s)
	g.addToCart("sunrise-mug")
	g.open("/logout")
	g.submit(`main form[action="/logout"] button`)
	if g.session().present || g.cartCount() != "0" {
		t.Errorf("guest sign out: session %v, badge %q", g.session().present, g.cartCount())
	}
}

// TestForgetMe deletes the guest and its cart, keeping placed orders for
// the shop (unlinked).
func TestForgetMe(t *testing.T) {
	s := requireEnv(t)
	p := newVisitor(t, s)
	p.addToCart("tiny-monstera")
	orderPath := p.checkoutAsGuest("Alan Turing", "alan@example.org", "Bletchley Park")
	p.addToCart("cloud-tee")
	guest := p.session().record

	p.open("/account")
	p.submit(`[data-testid="forget-me"]`)
	if msg := p.text(`[data-testid="flash"]`); !strings.Contains(msg, "were deleted") {
		t.Fatalf("forget me: flash %q, error %q", msg, p.text(`[data-testid="error"]`))
	}
	if p.session().present {
		t.Error("pb_auth cookie still set after forget me")
	}
	if _, exists := s.mustRecord(t, "users", guest.ID); exists {
		t.Errorf("guest %s still exists", guest.ID)
	}
	if n := len(s.mustList(t, "cart_items", "user='"+guest.ID+"'").Items); n != 0 {
		t.Errorf("%d cart rows of the forgotten guest remain", n)
	}
	order, ok := s.mustRecord(t, "orders", strings.TrimPrefix(orderPath, "/orders/"))
	if !ok || order.User != "" {
		t.Errorf("order after forget me: %+v (exists %v), want it kept and unlinked", order, ok)
	}
	if status := p.open(orderPath); status != 404 {
		t.Errorf("the order page after forget me: status %d, want 404", status)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
