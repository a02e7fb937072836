package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The starters in Chromium: the auth starter's guest journey and the htmx
// starter's realtime chat, driven in a real browser against the real
// binary. (The starters load htmx and the PocketBase SDK from CDNs, which
// the test machine cannot reach; the pages work without them, and the
// realtime client is the browser's own EventSource.)

var (
	starterBrowserOnce sync.Once
	starterBrowser     context.Context
	starterBrowserErr  error
)

// starterTab opens a tab in a fresh browser context (an empty cookie jar)
// on s, skipping like the other browser tests when Chromium is missing.
func starterTab(t *testing.T, s *server) *tab {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests skipped in -short mode")
	}
	chrome, tried := chromePath()
	if chrome == "" {
		msg := fmt.Sprintf("Chromium not found (tried %s)", strings.Join(tried, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip(msg)
	}
	starterBrowserOnce.Do(func() { starterBrowser, starterBrowserErr = startBrowser(chrome) })
	if starterBrowserErr != nil {
		t.Fatal(starterBrowserErr)
	}
	ctx, cancel := chromedp.NewContext(starterBrowser, chromedp.WithNewBrowserContext())
	return setupTab(t, s, ctx, cancel, fmt.Sprintf("starter%d", visitorSeq.Add(1)))
}

// The auth starter: "Login" in the Anonymous Login form makes the visitor a
// guest with an HttpOnly session cookie, and /account (behind the
// starter's +middleware.js guard) welcomes them.
func TestStarterAuthGuestInChromium(t *testing.T) {
	s, _ := startStarter(t, "auth")
	p := starterTab(t, s)

	p.open("/account")
	if !strings.HasPrefix(p.path(), "/auth/login") {
		t.Fatalf("/account without a session should redirect to the login page, at %s", p.path())
	}
	if got := p.text("h3"); got != "Anonymous Login" {
		t.Fatalf("login page: first h3 is %q", got)
	}
	if status := p.submit(`form:has(input[name="mode"][value="anonymous"]) button[type="submit"]`); status != 200 {
		t.Fatalf("after anonymous login: status %d at %s", status, p.path())
	}
	if p.path() != "/" {
		t.Fatalf("anonymous login should land on /, at %s", p.path())
	}
	sess := p.session()
	if !sess.present || !sess.httpOnly || !sess.record.IsAnonymous {
		t.Fatalf("expected an HttpOnly guest session, got %+v", sess)
	}

	if status := p.open("/account"); status != 200 {
		t.Fatalf("/account: %d", status)
	}
	if got := p.text("main p"); !strings.HasPrefix(got, "Welcome, anonymous-") {
		t.Fatalf("account page: %q", got)
	}
}

// The htmx starter: a browser subscribed to PocketBase's realtime API
// receives the chat message that the page's own form posts to /api/chat
// (a page under /api/).
func TestStarterHTMXRealtimeInChromium(t *testing.T) {
	s, _ := startStarter(t, "htmx")
	p := starterTab(t, s)

	if status := p.open("/"); status != 200 {
		t.Fatalf("GET /: %d", status)
	}
	p.eval(`(() => {
		window.__chat = []
		window.__subscribed = false
		const source = new EventSource('/api/realtime')
		source.addEventListener('PB_CONNECT', (e) => {
			fetch('/api/realtime', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ clientId: JSON.parse(e.data).clientId, subscriptions: ['chat'] }),
			}).then((r) => { window.__subscribed = r.status === 204 })
		})
		source.addEventListener('chat', (e) => window.__chat.push(JSON.parse(e.data)))
		return 'ok'
	})()`)
	p.waitForJS(`window.__subscribed === true`, 30*time.Second, "the realtime subscription")

	p.fill(`form[hx-post="/api/chat"] input[name="message"]`, "hello from Chromium")
	status := p.evalAsync(`(() => {
		const form = document.querySelector('form[hx-post="/api/chat"]')
		return fetch(form.getAttribute('hx-post'), { method: 'POST', body: new URLSearchParams(new FormData(form)) }).then((r) => String(r.status))
	})()`)
	if status != "200" {
		t.Fatalf("POST /api/chat from the page: %s", status)
	}
	p.waitForJS(`window.__chat.some((m) => m.includes('<div>hello from Chromium</div>'))`, 30*time.Second, "the chat message")
}
