package e2e

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// attackerSite serves, on another port (another origin), a page that
// auto-submits a hidden form to the shop, as a malicious site would.
func attackerSite(t *testing.T, action string, fields map[string]string) *httptest.Server {
	t.Helper()
	var inputs strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&inputs, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
	}
	page := `<!doctype html><title>You won!</title><form id="f" method="post" action="` + html.EscapeString(action) + `">` +
		inputs.String() + `</form><script>document.getElementById('f').submit()</script>`
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestCrossSiteFormPostRefused: a page on another origin that posts a form
// to the shop gets 403 and changes nothing, whether the browser sends the
// session cookie along (same site, other port) or not (another site).
func TestCrossSiteFormPostRefused(t *testing.T) {
	s := requireEnv(t)
	p := newVisitor(t, s)
	p.addToCart("sunrise-mug")
	p.addToCart("cloud-tee")
	victim := p.session()
	mug := s.mustProductID(t, "sunrise-mug")
	guestsBefore := s.mustList(t, "users", "isAnonymous = true").TotalItems

	t.Run("same site, other origin: cookie sent, request refused", func(t *testing.T) {
		// http://127.0.0.1:<other port> is same-site to the shop, so the
		// SameSite=Lax cookie goes along with the POST; the Origin /
		// Sec-Fetch-Site check must refuse it.
		evil := attackerSite(t, s.URL+"/cart", map[string]string{"action": "remove", "product": mug})
		p.open(evil.URL)
		if status := p.waitDocument(s.URL+"/cart", 10*time.Second); status != http.StatusForbidden {
			t.Errorf("cross-origin POST /cart: status %d, want 403", status)
		}
	})

	t.Run("other site: no cookie, still refused", func(t *testing.T) {
		// http://localhost:<port> is another site: the browser leaves the
		// cookie out, and without the page's own check the post would sign
		// the visitor in as a brand-new guest, replacing their session.
		evil := attackerSite(t, s.URL+"/", map[string]string{"action": "add", "product": mug})
		other := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
		p.open(other)
		if status := p.waitDocument(s.URL+"/", 10*time.Second); status != http.StatusForbidden {
			t.Errorf("cross-site POST /: status %d, want 403", status)
		}
	})

	// Nothing changed: same guest, same cart, no new guests.
	if got := p.session(); got.token != victim.token || got.record.ID != victim.record.ID {
		t.Errorf("session changed by a cross-site post: %s → %s", victim.record.ID, got.record.ID)
	}
	lines := p.cartLines()
	if lines["sunrise-mug"] != "1" || lines["cloud-tee"] != "1" || len(lines) != 2 {
		t.Errorf("cart after the attacks %v, want sunrise-mug:1 cloud-tee:1", lines)
	}
	if after := s.mustList(t, "users", "isAnonymous = true").TotalItems; after != guestsBefore {
		t.Errorf("guests %d → %d: a cross-site post created a guest", guestsBefore, after)
	}
}

// TestRateLimitShownOnPage: with one anonymous sign-in per minute per IP,
// the second new visitor's "Add to cart" shows the 429 on the page.
func TestRateLimitShownOnPage(t *testing.T) {
	requireEnv(t)
	limited, err := startServer("--anonRateLimit", "1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(limited.stop)

	first := newVisitor(t, limited)
	first.addToCart("sunrise-mug")

	second := newVisitor(t, limited)
	second.open("/")
	if status := second.submit(`[data-testid="add-sunrise-mug"]`); status != http.StatusOK {
		t.Errorf("rate-limited Add to cart: status %d, want the page (200) with the error", status)
	}
	msg := second.text(`[data-testid="error"]`)
	if !strings.Contains(msg, "Slow down") || !strings.Contains(strings.ToLower(msg), "too many") {
		t.Errorf("rate-limited Add to cart shows %q, want the 429 explained", msg)
	}
	if second.session().present {
		t.Error("a rate-limited visitor got a session anyway")
	}
}
