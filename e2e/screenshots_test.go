package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestScreenshots walks a guest through the shop and saves full-page
// screenshots of every page, at desktop and phone widths, into
// $POCKETGUEST_E2E_SCREENSHOTS. It is a tool for reviewing the design (and
// for the README), so it only runs when that variable is set.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("POCKETGUEST_E2E_SCREENSHOTS")
	if dir == "" {
		t.Skip("set POCKETGUEST_E2E_SCREENSHOTS=<dir> to save screenshots of the demo pages")
	}
	s := requireEnv(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := newVisitor(t, s)

	shoot := func(name string) {
		t.Helper()
		for _, size := range []struct {
			suffix string
			w, h   int64
		}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
			if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, name+"-"+size.suffix+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("saved %s", file)
		}
	}

	p.open("/")
	shoot("1-home")
	p.addToCart("sunrise-mug")
	p.addToCart("stripe-socks")
	p.eval(`document.querySelector('[data-testid="guest-banner"] details').open = true; ''`)
	shoot("2-home-guest-banner-open")
	p.open("/cart")
	shoot("3-cart")
	p.open("/checkout")
	shoot("4-checkout-choice")
	p.submit(`[data-testid="continue-as-guest"]`)
	p.submit(`[data-testid="place-order"]`)
	shoot("5-checkout-errors")
	p.checkoutAsGuest("Ada Lovelace", "ada@example.org", "12 Analytical Way\nLondon")
	shoot("6-order-confirmation")
	p.open("/account")
	shoot("7-account-guest")
	p.open("/login")
	shoot("8-login")
	p.open("/account")
	p.fill("#up-email", "not-an-email")
	p.fill("#up-password", "short")
	p.fill("#up-confirm", "shorter")
	p.submit(`[data-testid="upgrade-submit"]`)
	shoot("9-account-upgrade-errors")
	p.fill("#up-email", uniqueEmail("ada"))
	p.fill("#up-password", "a long enough password")
	p.fill("#up-confirm", "a long enough password")
	p.submit(`[data-testid="upgrade-submit"]`)
	p.fill("#card-number", "4242 4242 4242 4242")
	p.fill("#card-expiry", "12/29")
	p.submit(`[data-testid="card-submit"]`)
	shoot("10-account-saved")

	// The dark colour scheme.
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	p.addToCart("tiny-monstera")
	shoot("11-home-dark")
	p.open("/cart")
	shoot("12-cart-dark")
}
