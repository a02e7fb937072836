package anonauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// fakeClock is the injected clock of the sliding session tests: time moves
// only when a test says so.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	// Start at the wall clock: PocketBase itself still checks every token's
	// expiry against the real time, and tokens issued on a clock that only
	// moves forward from here stay valid to it while the test runs. Which
	// token is expired is decided by this clock alone (the cookie middleware
	// checks it first), so nothing depends on how fast the test runs.
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// slidingHarness is an app served through PocketBase's router on a fake
// clock, with a /whoami route that shows the request's session.
type slidingHarness struct {
	t       testing.TB
	app     *tests.TestApp
	clock   *fakeClock
	handler http.Handler
}

func newSlidingHarness(t testing.TB, cfg anonauth.Config) *slidingHarness {
	t.Helper()
	app := newTestApp(t, cfg)
	t.Cleanup(app.Cleanup)
	clock := newFakeClock()
	anonauth.SetClock(anonauth.FromApp(app), clock.now)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET("/whoami", func(e *core.RequestEvent) error {
			if e.Auth == nil {
				return e.UnauthorizedError("no session", nil)
			}
			return e.JSON(200, map[string]any{"id": e.Auth.Id})
		})
		return se.Next()
	})
	return &slidingHarness{t: t, app: app, clock: clock, handler: serve(t, app)}
}

// do sends one request carrying cookie (a pb_auth value, "" for none) and
// extra headers.
func (h *slidingHarness) do(method, url, cookie string, headers ...string) *http.Response {
	h.t.Helper()
	req := httptest.NewRequest(method, url, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: anonauth.CookieName, Value: cookie})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec.Result()
}

// signIn creates a guest through the real endpoint and returns its id and
// cookie value.
func (h *slidingHarness) signIn() (id, cookie string) {
	h.t.Helper()
	res := h.do(http.MethodPost, signInURL, "")
	if res.StatusCode != 200 {
		h.t.Fatalf("sign-in: status %d", res.StatusCode)
	}
	c := findCookie(res, anonauth.CookieName)
	if c == nil {
		h.t.Fatal("sign-in set no cookie")
	}
	return decodeAuth(h.t, res).Record["id"].(string), c.Value
}

// whoami returns the id of the session the cookie carries ("" if none) and
// the response.
func (h *slidingHarness) whoami(cookie string, headers ...string) (string, *http.Response) {
	h.t.Helper()
	res := h.do(http.MethodGet, "/whoami", cookie, headers...)
	if res.StatusCode == http.StatusUnauthorized {
		return "", res
	}
	var body struct{ Id string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		h.t.Fatal(err)
	}
	return body.Id, res
}

func pbAuthLines(res *http.Response) []string {
	var out []string
	for _, v := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, anonauth.CookieName+"=") {
			out = append(out, v)
		}
	}
	return out
}

const lifetime = time.Hour // guest token lifetime of these tests (the collection's is 7 days)

// TestSlidingSessionKeepsAnActiveGuest: a guest that comes back every 0.6 ×
// lifetime keeps one id across 10 lifetimes, its activity is recorded at
// every visit, and the official JS SDK reads the renewed cookie.
func TestSlidingSessionKeepsAnActiveGuest(t *testing.T) {
	t.Parallel()
	h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})

	id, cookie := h.signIn()
	var lastHeader string
	visits := 0
	for elapsed := time.Duration(0); elapsed <= 10*lifetime; {
		h.clock.advance(lifetime * 6 / 10)
		elapsed += lifetime * 6 / 10
		visits++

		got, res := h.whoami(cookie)
		if got != id {
			t.Fatalf("visit %d (%s in): session is %q, want the guest %q", visits, elapsed, got, id)
		}
		lines := pbAuthLines(res)
		if len(lines) != 1 {
			t.Fatalf("visit %d: want exactly one renewed pb_auth cookie, got %q", visits, lines)
		}
		c := findCookie(res, anonauth.CookieName)
		if want := h.clock.now().Add(lifetime); c.Expires.Unix() != want.Unix() {
			t.Fatalf("visit %d: renewed cookie expires %s, want %s (a full lifetime from now)", visits, c.Expires, want)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
			t.Fatalf("visit %d: renewed cookie lost its attributes: %s", visits, lines[0])
		}
		cookie, lastHeader = c.Value, lines[0]
	}
	if visits < 17 {
		t.Fatalf("only %d visits", visits)
	}

	// Renewal is activity: lastSeen is the last visit.
	if err := anonauth.FromApp(h.app).FlushActivity(); err != nil {
		t.Fatal(err)
	}
	guest, err := h.app.FindRecordById("users", id)
	if err != nil {
		t.Fatal(err)
	}
	if seen := guest.GetDateTime(anonauth.FieldLastSeen).Time(); seen.Unix() != h.clock.now().Unix() {
		t.Fatalf("lastSeen %s, want the last visit %s", seen, h.clock.now())
	}

	// The renewed cookie is what the official SDK's loadFromCookie reads.
	var loaded struct {
		Token    string `json:"token"`
		RecordId string `json:"recordId"`
	}
	if err := json.Unmarshal(runSDK(t, "load", lastHeader), &loaded); err != nil {
		t.Fatal(err)
	}
	token, _ := anonauth.DecodeAuthCookie(cookie)
	if loaded.RecordId != id || loaded.Token != token {
		t.Fatalf("SDK loaded %+v from the renewed cookie", loaded)
	}
}

// TestSlidingSessionIdleGuestIsANewVisitor: 1.1 × lifetime without a visit
// ends the session; signing in then makes a new guest.
func TestSlidingSessionIdleGuestIsANewVisitor(t *testing.T) {
	t.Parallel()
	h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})

	id, cookie := h.signIn()
	h.clock.advance(lifetime * 11 / 10)

	got, res := h.whoami(cookie)
	if got != "" || len(pbAuthLines(res)) != 0 {
		t.Fatalf("an expired cookie must be no session and never renewed: got %q, %q", got, pbAuthLines(res))
	}
	res = h.do(http.MethodPost, signInURL, cookie)
	if res.StatusCode != 200 {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	if newId := decodeAuth(t, res).Record["id"]; newId == id {
		t.Fatal("an idle guest's expired session must not be resumed")
	}
}

// TestSlidingSessionRules: when a cookie session is (not) renewed.
func TestSlidingSessionRules(t *testing.T) {
	t.Parallel()

	t.Run("young token: no renewal", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		id, cookie := h.signIn()
		h.clock.advance(lifetime * 4 / 10)
		got, res := h.whoami(cookie)
		if got != id || len(pbAuthLines(res)) != 0 {
			t.Fatalf("got %q, cookies %q", got, pbAuthLines(res))
		}
	})

	t.Run("a record changed since the cookie was written is re-encoded", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		id, cookie := h.signIn()
		guest, err := h.app.FindRecordById("users", id)
		if err != nil {
			t.Fatal(err)
		}
		guest.Set("name", "Renamed Guest")
		guest.Set("updated", guest.GetDateTime("updated").Add(time.Second))
		if err := h.app.Save(guest); err != nil {
			t.Fatal(err)
		}
		h.clock.advance(lifetime * 6 / 10)
		_, res := h.whoami(cookie)
		c := findCookie(res, anonauth.CookieName)
		if c == nil {
			t.Fatal("not renewed")
		}
		if decoded, _ := url.PathUnescape(c.Value); !strings.Contains(decoded, `"name":"Renamed Guest"`) {
			t.Fatalf("the renewed cookie must carry the current record: %s", decoded)
		}
	})

	t.Run("custom share", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime, SessionRenewAfter: 0.25})
		_, cookie := h.signIn()
		h.clock.advance(lifetime * 3 / 10)
		if _, res := h.whoami(cookie); len(pbAuthLines(res)) != 1 {
			t.Fatal("0.3 × lifetime in, a 0.25 share must renew")
		}
	})

	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime, SessionRenewAfter: -1})
		_, cookie := h.signIn()
		h.clock.advance(lifetime * 9 / 10)
		if _, res := h.whoami(cookie); len(pbAuthLines(res)) != 0 {
			t.Fatal("renewal is off")
		}
	})

	t.Run("a response that sets pb_auth itself keeps its own, once", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		_, cookie := h.signIn()
		h.clock.advance(lifetime * 6 / 10)
		res := h.do(http.MethodPost, "/api/collections/users/auth-refresh", cookie)
		body := decodeAuth(t, res)
		lines := pbAuthLines(res)
		if res.StatusCode != 200 || len(lines) != 1 {
			t.Fatalf("status %d, pb_auth lines %q", res.StatusCode, lines)
		}
		if token, _ := anonauth.DecodeAuthCookie(findCookie(res, anonauth.CookieName).Value); token != body.Token {
			t.Fatal("the cookie must be auth-refresh's own")
		}
	})

	t.Run("sign-out is not undone", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		_, cookie := h.signIn()
		h.clock.advance(lifetime * 6 / 10)
		res := h.do(http.MethodPost, "/api/collections/users/delete-anonymous", cookie)
		lines := pbAuthLines(res)
		if res.StatusCode != 204 || len(lines) != 1 || !strings.Contains(lines[0], "Max-Age=0") {
			t.Fatalf("status %d, pb_auth lines %q", res.StatusCode, lines)
		}
	})

	t.Run("SDK session (Authorization header): no cookie", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		_, cookie := h.signIn()
		token, _ := anonauth.DecodeAuthCookie(cookie)
		h.clock.advance(lifetime * 6 / 10)
		id, res := h.whoami("", "Authorization", token)
		if id == "" || len(pbAuthLines(res)) != 0 {
			t.Fatalf("got %q, cookies %q", id, pbAuthLines(res))
		}
	})

	t.Run("invalid token: no session, no renewal", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		guest, _ := h.app.FindAuthRecordByEmail("users", "test@example.com")
		token, err := guest.NewAuthToken()
		if err != nil {
			t.Fatal(err)
		}
		forged := token[:len(token)-4] + "AAAA" // bad signature
		value, _ := anonauth.EncodeAuthCookie(forged, guest)
		h.clock.advance(6 * 24 * time.Hour)
		id, res := h.whoami(value)
		if id != "" || len(pbAuthLines(res)) != 0 {
			t.Fatalf("got %q, cookies %q", id, pbAuthLines(res))
		}
	})

	t.Run("impersonation (non-refreshable) token: no renewal", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		user, _ := h.app.FindAuthRecordByEmail("users", "test@example.com")
		token, err := user.NewStaticAuthToken(lifetime)
		if err != nil {
			t.Fatal(err)
		}
		value, _ := anonauth.EncodeAuthCookie(token, user)
		id, res := h.whoami(value) // PocketBase signed it on the wall clock: no fake time needed
		if id != user.Id || len(pbAuthLines(res)) != 0 {
			t.Fatalf("got %q, cookies %q", id, pbAuthLines(res))
		}
	})

	t.Run("full account: renewed with the collection's duration", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		user, _ := h.app.FindAuthRecordByEmail("users", "test@example.com")
		token, err := anonauth.FromApp(h.app).NewToken(user)
		if err != nil {
			t.Fatal(err)
		}
		value, _ := anonauth.EncodeAuthCookie(token, user)
		h.clock.advance(user.Collection().AuthToken.DurationTime() * 6 / 10)
		id, res := h.whoami(value)
		c := findCookie(res, anonauth.CookieName)
		if id != user.Id || c == nil {
			t.Fatalf("got %q, cookies %q", id, pbAuthLines(res))
		}
		if want := h.clock.now().Add(user.Collection().AuthToken.DurationTime()); c.Expires.Unix() != want.Unix() {
			t.Fatalf("expires %s, want %s", c.Expires, want)
		}
		renewed, _ := anonauth.DecodeAuthCookie(c.Value)
		if tokenRecordId(h.app, renewed) != user.Id {
			t.Fatal("PocketBase must accept the renewed token")
		}
	})

	t.Run("an error response renews too, once", func(t *testing.T) {
		t.Parallel()
		h := newSlidingHarness(t, anonauth.Config{TokenDuration: lifetime})
		_, cookie := h.signIn()
		h.clock.advance(lifetime * 6 / 10)
		res := h.do(http.MethodGet, "/api/collections/missing/records", cookie)
		if res.StatusCode != 404 || len(pbAuthLines(res)) != 1 {
			t.Fatalf("status %d, pb_auth lines %q", res.StatusCode, pbAuthLines(res))
		}
	})
}

func TestSlidingSessionConfig(t *testing.T) {
	t.Parallel()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	if _, err := anonauth.Register(app, anonauth.Config{SessionRenewAfter: 1}); err == nil {
		t.Fatal("a share of 1 (never) must be refused")
	}
}
