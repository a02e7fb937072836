package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// viewports are the widths the demo's design promises to fit: desktop, a
// common phone and the narrowest phone in use (320 px).
var viewports = []struct {
	name string
	w, h int64
}{{"desktop", 1280, 900}, {"phone", 390, 844}, {"narrow", 320, 640}}

// TestLayoutFitsEveryWidthInLightAndDark walks a guest through every page
// of the shop (with and without errors shown) and checks, at 1280, 390 and
// 320 px, that no page is wider than the viewport (no sideways scrolling),
// then that the dark colour scheme really switches to a dark background.
//
// With POCKETGUEST_E2E_SCREENSHOTS=<dir> it also saves a full-page
// screenshot of every step at every width, for reviewing the design.
func TestLayoutFitsEveryWidthInLightAndDark(t *testing.T) {
	s := requireEnv(t)
	shots := os.Getenv("POCKETGUEST_E2E_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := newVisitor(t, s)

	check := func(step string) {
		t.Helper()
		for _, vp := range viewports {
			if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(vp.w, vp.h)); err != nil {
				t.Fatal(err)
			}
			if over := p.eval(overflowJS); over != "" {
				t.Errorf("%s at %d px (%s): %s", step, vp.w, p.path(), over)
			}
			if shots == "" {
				continue
			}
			png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(shots, step+"-"+vp.name+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("saved %s", file)
		}
	}

	p.open("/")
	check("1-home")
	p.addToCart("sunrise-mug")
	p.addToCart("stripe-socks")
	p.eval(`document.querySelector('[data-testid="guest-banner"] details').open = true; ''`)
	check("2-home-guest-banner-open")
	p.open("/cart")
	check("3-cart")
	p.open("/checkout")
	check("4-checkout-choice")
	p.submit(`[data-testid="continue-as-guest"]`)
	p.submit(`[data-testid="place-order"]`)
	check("5-checkout-errors")
	p.checkoutAsGuest("Ada Lovelace", "ada@example.org", "12 Analytical Way\nLondon")
	check("6-order-confirmation")
	p.open("/account")
	check("7-account-guest")
	p.open("/login")
	check("8-login")
	p.open("/account")
	p.fill("#up-email", "not-an-email")
	p.fill("#up-password", "short")
	p.fill("#up-confirm", "shorter")
	p.submit(`[data-testid="upgrade-submit"]`)
	check("9-account-upgrade-errors")
	p.fill("#up-email", uniqueEmail("ada"))
	p.fill("#up-password", "a long enough password")
	p.fill("#up-confirm", "a long enough password")
	p.submit(`[data-testid="upgrade-submit"]`)
	p.fill("#card-number", "4242 4242 4242 4242")
	p.fill("#card-expiry", "12/29")
	p.submit(`[data-testid="card-submit"]`)
	check("10-account-saved")

	light := p.backgroundLuminance()
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	p.addToCart("tiny-monstera")
	check("11-home-dark")
	if dark := p.backgroundLuminance(); dark >= light || dark > 0.1 {
		t.Errorf("prefers-color-scheme: dark: page background luminance %.3f (light scheme: %.3f), want a dark one (≤ 0.1)", dark, light)
	}
	p.open("/cart")
	check("12-cart-dark")
}

// overflowJS is "" when the page fits the viewport's width, else how wide
// it is and the first elements that stick out.
const overflowJS = `(() => {
  const root = document.documentElement, w = root.clientWidth;
  if (root.scrollWidth <= w) return "";
  const out = [...document.body.querySelectorAll("*")]
    .filter(e => e.getBoundingClientRect().right > w + 0.5)
    .slice(0, 3)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : ""));
  return "page is " + root.scrollWidth + " px wide, viewport " + w + " px; sticking out: " + out.join(", ");
})()`

// backgroundLuminance is the WCAG relative luminance (0 black … 1 white) of
// the page background (body, else html).
func (p *tab) backgroundLuminance() float64 {
	p.t.Helper()
	s := p.eval(`(() => {
  for (const el of [document.body, document.documentElement]) {
    const m = getComputedStyle(el).backgroundColor.match(/[\d.]+/g);
    if (!m || (m.length > 3 && +m[3] === 0)) continue;
    const [r, g, b] = m.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4) });
    return String(0.2126 * r + 0.7152 * g + 0.0722 * b);
  }
  return "1";
})()`)
	l, err := strconv.ParseFloat(s, 64)
	if err != nil {
		p.t.Fatalf("background luminance %q: %v", s, err)
	}
	return l
}
