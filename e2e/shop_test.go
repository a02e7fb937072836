package e2e

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// uniqueEmail returns an address no other test (or earlier run on the
// same server) uses.
var emailSeq atomic.Int64

func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%d-%d@example.org", prefix, time.Now().UnixNano()%1e9, emailSeq.Add(1))
}

// addToCart adds a product from the home page, as a visitor would.
func (p *tab) addToCart(slug string) {
	p.t.Helper()
	if !strings.HasPrefix(p.path(), "/") || strings.HasPrefix(p.path(), "/cart") || p.count(`[data-testid="add-`+slug+`"]`) == 0 {
		p.open("/")
	}
	if status := p.submit(`[data-testid="add-` + slug + `"]`); status != 200 {
		p.t.Fatalf("add %s: status %d", slug, status)
	}
	if msg := p.text(`[data-testid="flash"]`); msg != "Added to your cart." {
		p.t.Fatalf("add %s: flash %q, error %q", slug, msg, p.text(`[data-testid="error"]`))
	}
}

// cartLines returns slug → quantity from the cart page.
func (p *tab) cartLines() map[string]string {
	p.t.Helper()
	p.open("/cart")
	raw := p.eval(`JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid="cart-line"]')].map(tr => [tr.dataset.slug, tr.querySelector('[data-testid="qty"]').value])))`)
	out := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(raw, "{}"), ",") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, ":", 2)
		out[strings.Trim(parts[0], `"`)] = strings.Trim(parts[1], `"`)
	}
	return out
}

// checkoutAsGuest goes from the cart to a placed order.
func (p *tab) checkoutAsGuest(name, email, address string) (orderPath string) {
	p.t.Helper()
	p.open("/cart")
	p.submit(`[data-testid="checkout-link"]`)
	if p.count(`[data-testid="checkout-choice"]`) != 1 {
		p.t.Fatalf("checkout: no Continue as guest / Sign in choice on %s", p.path())
	}
	p.submit(`[data-testid="continue-as-guest"]`)
	if p.count(`[data-testid="checkout-form"]`) != 1 {
		p.t.Fatalf("checkout: no details form after Continue as guest (%s): %s", p.path(), p.text("main"))
	}
	p.fill("#name", name)
	p.fill("#email", email)
	p.fill("#address", address)
	if status := p.submit(`[data-testid="place-order"]`); status != 200 {
		p.t.Fatalf("place order: status %d", status)
	}
	if !strings.HasPrefix(p.path(), "/orders/") {
		p.t.Fatalf("place order: landed on %s: %s", p.path(), p.text("main"))
	}
	return strings.SplitN(p.path(), "?", 2)[0]
}

// TestGuestCheckout is try-before-you-buy from the first click to the
// order confirmation, as a visitor who never signs up.
func TestGuestCheckout(t *testing.T) {
	s := requireEnv(t)
	p := newVisitor(t, s)

	if status := p.open("/"); status != 200 {
		t.Fatalf("GET /: status %d", status)
	}
	if n := p.count(`[data-testid="product"]`); n < 6 {
		t.Fatalf("home page lists %d products, want the 6 seeded ones", n)
	}
	if p.session().present {
		t.Fatal("a visitor who only looked has a session already")
	}
	if p.count(`[data-testid="guest-banner"]`) != 0 {
		t.Fatal("guest banner shown before the visitor did anything")
	}

	// The first "Add to cart" makes the visitor a guest.
	p.addToCart("sunrise-mug")
	sess := p.session()
	if !sess.present || !sess.record.IsAnonymous || sess.record.ID == "" {
		t.Fatalf("after Add to cart: session %+v, want an anonymous record", sess)
	}
	if !sess.httpOnly || !strings.EqualFold(sess.sameSite, "Lax") {
		t.Errorf("pb_auth cookie: HttpOnly=%v SameSite=%q, want HttpOnly, Lax", sess.httpOnly, sess.sameSite)
	}
	if got := p.cartCount(); got != "1" {
		t.Errorf("cart badge %q, want 1", got)
	}
	if p.count(`[data-testid="guest-banner"]`) != 1 {
		t.Error("no 'Save your account' banner for the guest")
	}
	guest, ok := s.mustRecord(t, "users", sess.record.ID)
	if !ok || !guest.IsAnonymous {
		t.Fatalf("users/%s: %+v, want an anonymous record", sess.record.ID, guest)
	}

	// More items: the same guest, not a new one per click.
	p.addToCart("stripe-socks")
	p.addToCart("stripe-socks")
	if id := p.session().record.ID; id != sess.record.ID {
		t.Fatalf("second Add to cart switched guest %s → %s", sess.record.ID, id)
	}
	lines := p.cartLines()
	if lines["sunrise-mug"] != "1" || lines["stripe-socks"] != "2" || len(lines) != 2 {
		t.Fatalf("cart lines %v, want sunrise-mug:1 stripe-socks:2", lines)
	}
	if total := p.text(`[data-testid="cart-total"]`); total != "$36.00" {
		t.Errorf("cart total %q, want $36.00 (18 + 2×9)", total)
	}

	// Change a quantity with the plain form.
	p.fill(`[data-slug="stripe-socks"] [data-testid="qty"]`, "3")
	p.submit(`[data-slug="stripe-socks"] .qty-form button`)
	if total := p.text(`[data-testid="cart-total"]`); total != "$45.00" {
		t.Errorf("cart total after qty 3: %q, want $45.00", total)
	}

	// Checkout: validation errors are shown, then the order goes through.
	p.submit(`[data-testid="checkout-link"]`)
	p.submit(`[data-testid="continue-as-guest"]`)
	p.submit(`[data-testid="place-order"]`)
	if n := p.count(`.field-error`); n != 3 {
		t.Errorf("empty checkout form: %d field errors, want 3", n)
	}
	if p.count(`#email[aria-invalid="true"]`) != 1 {
		t.Error("invalid email field not marked aria-invalid")
	}
	orderPath := p.checkoutAsGuest("Ada Lovelace", "ada@example.org", "12 Analytical Way\nLondon")
	if msg := p.text(`[data-testid="flash"]`); !strings.Contains(msg, "order is placed") {
		t.Errorf("confirmation flash %q", msg)
	}
	if got := p.text(`[data-testid="order-total"]`); got != "$45.00" {
		t.Errorf("order total %q, want $45.00", got)
	}
	if n := p.count(`[data-testid="order-item"]`); n != 2 {
		t.Errorf("order shows %d items, want 2", n)
	}
	number := p.text(`[data-testid="order-number"]`)
	if !strings.HasPrefix(number, "PG-") {
		t.Errorf("order number %q", number)
	}
	if got := p.cartCount(); got != "0" {
		t.Errorf("cart badge after ordering %q, want 0", got)
	}

	// Stored as the guest's order; the order history lists it.
	orderID := strings.TrimPrefix(orderPath, "/orders/")
	stored, ok := s.mustRecord(t, "orders", orderID)
	if !ok || stored.User != sess.record.ID || stored.Total != 4500 || stored.Number != number {
		t.Errorf("stored order %+v, want user %s total 4500 number %s", stored, sess.record.ID, number)
	}
	p.open("/orders")
	if n := p.count(`[data-testid="order-row"]`); n != 1 {
		t.Errorf("order history lists %d orders, want 1", n)
	}

	// Nothing on the way came from another origin.
	if ext := p.externalRequests(); len(ext) > 0 {
		t.Errorf("requests outside the shop's origin: %v", ext)
	}
	if p.requestCount() == 0 {
		t.Error("no requests recorded: the network listener is not working")
	}

	// Another visitor cannot see this order, page or API.
	other := newVisitor(t, s)
	if status := other.open(orderPath); status != 404 {
		t.Errorf("another visitor opening %s: status %d, want 404", orderPath, status)
	}
	other.addToCart("cloud-tee")
	if status := other.open(orderPath); status != 404 {
		t.Errorf("another guest opening %s: status %d, want 404", orderPath, status)
	}
	got := other.evalAsync(`fetch('/api/collections/orders/records').then(r => r.json()).then(j => String(j.totalItems))`)
	if got != "0" {
		t.Errorf("another guest lists %s orders through the API, want 0", got)
	}
	mine := p.evalAsync(`fetch('/api/collections/orders/records').then(r => r.json()).then(j => String(j.totalItems))`)
	if mine != "1" {
		t.Errorf("the guest lists %s orders through the API (cookie session), want 1", mine)
	}
}
