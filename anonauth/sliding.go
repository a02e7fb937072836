package anonauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cast"

	"github.com/pocketguest/pocketguest/internal/uricomponent"
)

// Sliding cookie sessions.
//
// A cookie session used to end when its token expired, however often the
// visitor came: a guest who shopped on day 0 and came back on day 8 was a new
// visitor, and the old cart was out of reach. Now a request that comes with
// the pb_auth cookie after Config.SessionRenewAfter of its token's lifetime
// has passed (default: half) gets a fresh token in the cookie, so the session
// ends only after a full lifetime without a visit.
//
// The rules:
//   - Only sessions from the cookie: an SDK client sends the Authorization
//     header and refreshes with auth-refresh as before.
//   - Only valid tokens: the cookie's token must be a refreshable auth token
//     (impersonation tokens are not) that PocketBase accepted (e.Auth set).
//     An invalid or expired token is no session and is never renewed.
//   - At most once per request, and never on a response that already sets
//     the cookie (a sign-in, an upgrade, a sign-out, auth-refresh): the new
//     cookie is added at the moment the response's header is written, only if
//     nothing else set one.
//   - Same cookie as a sign-in (SetAuthCookie: HttpOnly, SameSite=Lax, Secure
//     on HTTPS, Path=/, expiring with the new token), same lifetime as a new
//     token of that record: Config.TokenDuration for guests, the collection's
//     auth token duration for everyone else.
//   - For a guest, renewal is activity: the activity middleware has noted
//     the request already (lastSeen), so a guest whose session is kept alive
//     is never deleted by the cleanup as inactive.
//
// Cost: one token signature (HMAC-SHA256) and one cookie encoding on the
// renewing request only; see BENCHMARKS.md (sliding sessions).

// slidingMiddlewareId identifies the renewal middleware so apps can unbind
// it.
const slidingMiddlewareId = "pocketguestSlidingSession"

// cookieRenewalKey holds the *cookieSession of a request whose pb_auth
// cookie may be renewed (set by the cookie middleware, for refreshable
// tokens only).
const cookieRenewalKey = "pocketguest.cookieRenewal"

// cookieSession is what the cookie middleware read from the cookie.
type cookieSession struct {
	exp    time.Time       // the token's expiry
	record json.RawMessage // the record JSON the cookie carries, as it is
}

// cookieToken reads the claims of a cookie's token that the cookie
// middleware needs before PocketBase verifies it: whether it has expired on
// the plugin's clock (tests move that clock; in production it is the wall
// clock PocketBase checks too), and its expiry if it may be renewed.
func (p *Plugin) cookieToken(token string) (exp time.Time, renewable, expired bool) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return time.Time{}, false, false // not a JWT: PocketBase rejects it
	}
	expiry, err := claims.GetExpirationTime()
	if err != nil || expiry == nil {
		return time.Time{}, false, false
	}
	if !p.now().Before(expiry.Time) {
		return expiry.Time, false, true
	}
	renewable = p.config.SessionRenewAfter > 0 &&
		claims[core.TokenClaimType] == core.TokenTypeAuth && cast.ToBool(claims[core.TokenClaimRefreshable])
	return expiry.Time, renewable, false
}

// registerSlidingSession binds the renewal middleware (a no-op when
// Config.SessionRenewAfter is negative).
func (p *Plugin) registerSlidingSession() {
	if p.config.SessionRenewAfter <= 0 {
		return
	}
	p.app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       slidingMiddlewareId,
			Priority: prioritySlidingSession, // hookorder.go
			Func:     p.slideSession,
		})
		return se.Next()
	})
}

func (p *Plugin) slideSession(e *core.RequestEvent) error {
	session, ok := e.Get(cookieRenewalKey).(*cookieSession)
	if !ok || e.Auth == nil {
		return e.Next()
	}

	lifetime := p.tokenLifetime(e.Auth)
	if session.exp.Sub(p.now()) > time.Duration(float64(lifetime)*(1-p.config.SessionRenewAfter)) {
		return e.Next() // still young
	}

	record := e.Auth
	w := &renewingWriter{
		ResponseWriter: e.Response,
		renew: func(header http.Header) {
			if hasSetCookie(header, p.config.CookieName) {
				return // the response sets its own session (or ends it)
			}
			if err := p.renewCookie(e, header, record, session.record, lifetime); err != nil {
				e.App.Logger().Warn("anonauth: failed to renew a cookie session", "recordId", record.Id, "error", err)
			}
		},
	}
	e.Response = w

	err := e.Next()
	if err != nil && !e.Written() {
		// PocketBase's router writes a returned error to its own writer,
		// past this wrapper: add the cookie to the shared header now, so
		// an error page renews the session like any other answer.
		w.before()
	}
	return err
}

// renewCookie adds a pb_auth Set-Cookie line with a fresh token of record to
// header (the response's, while it is being written).
//
// The record JSON of the old cookie is reused when it is the same version
// of the record (same id and "updated"): encoding a record is most of the
// cost of a renewal (see BENCHMARKS.md), and the result would be the same.
func (p *Plugin) renewCookie(e *core.RequestEvent, header http.Header, record *core.Record, oldJSON json.RawMessage, lifetime time.Duration) error {
	exp := p.now().Add(lifetime)
	token, err := p.signAuthToken(record, lifetime)
	if err != nil {
		return err
	}

	// The attributes exactly as SetAuthCookie writes them (net/http formats
	// them; the token's exp claim has second precision, and so has the
	// cookie's expiry), with the value spliced in after "pb_auth=": the
	// value is long (the record) and already safe, so it is encoded once,
	// straight into the header line.
	attrs := authCookie(e, "", time.Unix(exp.Unix(), 0)).String()
	prefix := p.config.CookieName + "="
	if !strings.HasPrefix(attrs, prefix) {
		return errors.New("unexpected cookie format")
	}

	var line strings.Builder
	if sameRecordVersion(oldJSON, record) {
		line.Grow(len(attrs) + uricomponent.Len(`{"token":"",`) + uricomponent.Len(token) +
			uricomponent.Len(`"record":}`) + uricomponent.Len(string(oldJSON)))
		line.WriteString(prefix)
		uricomponent.Write(&line, `{"token":"`)
		uricomponent.Write(&line, token) // base64url and dots: nothing to escape in JSON
		uricomponent.Write(&line, `","record":`)
		uricomponent.Write(&line, string(oldJSON))
		uricomponent.Write(&line, `}`)
	} else {
		value, err := EncodeAuthCookie(token, record)
		if err != nil {
			return err
		}
		line.Grow(len(attrs) + len(value))
		line.WriteString(prefix)
		line.WriteString(value)
	}
	line.WriteString(attrs[len(prefix):])

	header.Add("Set-Cookie", line.String())
	return nil
}

// sameRecordVersion reports whether a cookie's record JSON is record as it
// is now: same id, collection and "updated" time. (A byte search, not a
// parse: both writers, EncodeAuthCookie and the SDK's JSON.stringify,
// write compact JSON, and a miss only costs a fresh encoding.)
func sameRecordVersion(raw json.RawMessage, record *core.Record) bool {
	updated, ok := record.GetRaw("updated").(types.DateTime)
	if len(raw) == 0 || !ok || updated.IsZero() {
		return false
	}
	return containsJSONString(raw, "id", record.Id) &&
		containsJSONString(raw, "collectionId", record.Collection().Id) &&
		containsJSONString(raw, "updated", updated.String())
}

// containsJSONString reports whether raw holds "key":"value" (value needing
// no escaping: ids and dates).
func containsJSONString(raw []byte, key, value string) bool {
	var b [128]byte
	needle := append(append(append(append(append(b[:0], '"'), key...), `":"`...), value...), '"')
	return bytes.Contains(raw, needle)
}

// hasSetCookie reports whether header sets the cookie name.
func hasSetCookie(header http.Header, name string) bool {
	for _, v := range header.Values("Set-Cookie") {
		if len(v) > len(name) && v[len(name)] == '=' && v[:len(name)] == name {
			return true
		}
	}
	return false
}

// renewingWriter calls renew once, just before the response's header is
// written (explicitly, by a first Write, or by a Flush).
type renewingWriter struct {
	http.ResponseWriter
	renew func(http.Header)
	done  bool
}

func (w *renewingWriter) before() {
	if !w.done {
		w.done = true
		w.renew(w.Header())
	}
}

func (w *renewingWriter) WriteHeader(status int) {
	w.before()
	w.ResponseWriter.WriteHeader(status)
}

func (w *renewingWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

// Flush sends the header with the renewal (server-sent events flush before
// writing anything).
func (w *renewingWriter) Flush() {
	w.before()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets PocketBase's Written/Status and http.ResponseController reach
// the router's own writer.
func (w *renewingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
