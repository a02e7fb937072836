package anonauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/anonauth"
)

func signInFrom(t testing.TB, h http.Handler, remoteAddr string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, signInURL, nil)
	req.RemoteAddr = remoteAddr
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRateLimitThroughRouter: 30 sign-ins per minute per IP, the 31st gets
// 429 with Retry-After; another IP and a superuser are not affected; behind
// a trusted proxy the forwarded client IP counts. The limiter's clock is
// frozen (and moved by the test): 30 sign-ins take long enough on a loaded
// machine for a token to come back on the wall clock.
func TestRateLimitThroughRouter(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	advance := anonauth.FreezeLimiterClock(anonauth.FromApp(app))
	h := serve(t, app)

	for i := 1; i <= 30; i++ {
		if rec := signInFrom(t, h, "203.0.113.7:4000", nil); rec.Code != http.StatusOK {
			t.Fatalf("sign-in %d: %d %s", i, rec.Code, rec.Body)
		}
	}

	rec := signInFrom(t, h, "203.0.113.7:4001", nil)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("31st sign-in: want 429, got %d", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After: want 2, got %q", got)
	}
	if !strings.Contains(rec.Body.String(), `"status":429`) {
		t.Fatalf("not PocketBase's error JSON: %s", rec.Body)
	}
	guests := countGuests(t, app, "users")

	if rec := signInFrom(t, h, "203.0.113.8:4000", nil); rec.Code != http.StatusOK {
		t.Fatalf("another IP: %d", rec.Code)
	}

	superuser, err := app.FindAuthRecordByEmail("_superusers", "test@example.com")
	if err != nil {
		t.Fatal(err)
	}
	suToken, _ := superuser.NewAuthToken()
	if rec := signInFrom(t, h, "203.0.113.7:4002", map[string]string{"Authorization": suToken}); rec.Code != http.StatusOK {
		t.Fatalf("superuser from a limited IP: %d %s", rec.Code, rec.Body)
	}
	if n := countGuests(t, app, "users"); n != guests+2 {
		t.Fatalf("the refused sign-in must create nothing: %d guests, want %d", n, guests+2)
	}

	// One token comes back after Retry-After, and only one.
	advance(2 * time.Second)
	if rec := signInFrom(t, h, "203.0.113.7:4003", nil); rec.Code != http.StatusOK {
		t.Fatalf("after Retry-After: %d", rec.Code)
	}
	if rec := signInFrom(t, h, "203.0.113.7:4003", nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a second one after Retry-After: %d", rec.Code)
	}

	// Behind a trusted proxy the client IP comes from the header: the proxy's
	// own address is not one client.
	app.Settings().TrustedProxy.Headers = []string{"X-Forwarded-For"}
	for i := 1; i <= 30; i++ {
		signInFrom(t, h, "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "198.51.100.1"})
	}
	if rec := signInFrom(t, h, "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "198.51.100.1"}); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("forwarded client over the limit: %d", rec.Code)
	}
	if rec := signInFrom(t, h, "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "198.51.100.2"}); rec.Code != http.StatusOK {
		t.Fatalf("another forwarded client behind the same proxy: %d", rec.Code)
	}
}

func TestRateLimitConfig(t *testing.T) {
	t.Parallel()

	limited := newTestApp(t, anonauth.Config{RateLimit: 3})
	defer limited.Cleanup()
	anonauth.FreezeLimiterClock(anonauth.FromApp(limited))
	h := serve(t, limited)
	for i := 1; i <= 3; i++ {
		if rec := signInFrom(t, h, "203.0.113.9:1", nil); rec.Code != http.StatusOK {
			t.Fatalf("sign-in %d: %d", i, rec.Code)
		}
	}
	if rec := signInFrom(t, h, "203.0.113.9:1", nil); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "20" {
		t.Fatalf("4th of 3/min: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}

	off := newTestApp(t, anonauth.Config{RateLimit: -1})
	defer off.Cleanup()
	h = serve(t, off)
	for i := 1; i <= 40; i++ {
		if rec := signInFrom(t, h, "203.0.113.9:1", nil); rec.Code != http.StatusOK {
			t.Fatalf("disabled limit, sign-in %d: %d", i, rec.Code)
		}
	}
}
