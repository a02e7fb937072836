package anonauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pocketguest/pocketguest/internal/uricomponent"
)

// CookieName is the default name of the session cookie (Config.CookieName),
// formatted as the official PocketBase JS SDK's
// authStore.exportToCookie/loadFromCookie expect.
const CookieName = "pb_auth"

// maxCookieBytes keeps the cookie under the ~4 KB browsers allow per cookie
// (name, attributes and value together). A larger record is trimmed to the
// fields a client needs to know who is signed in.
const maxCookieBytes = 3800

// cookieSessionKey marks a request whose auth came from the pb_auth cookie, so
// an auth response to it (auth-refresh, auth-with-password, OAuth2) keeps the
// cookie in sync with the new token.
const cookieSessionKey = "pocketguest.cookieSession"

// cookieMiddlewareId identifies the cookie→Authorization middleware so apps
// can unbind or reorder it.
const cookieMiddlewareId = "pocketguestCookieAuth"

// cookiePayload is the JSON inside the cookie: {token, record}.
type cookiePayload struct {
	Token  string `json:"token"`
	Record any    `json:"record"`
}

// SetAuthCookie writes the session cookie (Config.CookieName, default
// pb_auth) for token and record to e's response: HttpOnly, SameSite=Lax (so
// a top-level navigation from another site keeps the session but a
// cross-site form post does not carry it), Secure on HTTPS (always for a
// __Host-/__Secure- name), Path=/, no Domain, expiring with the token.
func SetAuthCookie(e *core.RequestEvent, token string, record *core.Record) error {
	value, err := EncodeAuthCookie(token, record)
	if err != nil {
		return err
	}
	exp, _ := tokenExpiry(token)
	replaceCookie(e, authCookie(e, value, exp))
	return nil
}

// authCookie is the session cookie of SetAuthCookie for an encoded value
// (also used by the sliding session renewal, which adds it while the
// response is written). A zero exp makes a browser-session cookie.
func authCookie(e *core.RequestEvent, value string, exp time.Time) *http.Cookie {
	name := SessionCookieName(e.App)
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   IsHTTPS(e) || needsSecure(name),
		SameSite: http.SameSiteLaxMode,
		Expires:  exp,
	}
}

// ClearAuthCookie expires the session cookie (sign out).
func ClearAuthCookie(e *core.RequestEvent) {
	name := SessionCookieName(e.App)
	replaceCookie(e, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   IsHTTPS(e) || needsSecure(name),
		SameSite: http.SameSiteLaxMode,
	})
}

// SessionCookieName is the session cookie's name in app: Config.CookieName
// of its anonauth plugin, or CookieName when none is registered.
func SessionCookieName(app core.App) string {
	if p := FromApp(app); p != nil {
		return p.config.CookieName
	}
	return CookieName
}

// CookieName returns the session cookie's name (Config.CookieName).
func (p *Plugin) CookieName() string {
	return p.config.CookieName
}

// validCookieName checks Config.CookieName: a cookie-name token (RFC 6265),
// and a __Host- prefix spelled as browsers expect it.
func validCookieName(name string) error {
	if err := (&http.Cookie{Name: name, Value: "x"}).Valid(); err != nil {
		return fmt.Errorf("%q is not a valid cookie name", name)
	}
	for _, prefix := range []string{"__Host-", "__Secure-"} {
		if strings.EqualFold(name[:min(len(name), len(prefix))], prefix) && !strings.HasPrefix(name, prefix) {
			return fmt.Errorf("%q: write the prefix as %q (browsers differ on other spellings)", name, prefix)
		}
	}
	return nil
}

// needsSecure reports a cookie name whose prefix makes browsers accept the
// cookie only with the Secure attribute.
func needsSecure(name string) bool {
	return strings.HasPrefix(name, "__Host-") || strings.HasPrefix(name, "__Secure-")
}

// SignOut ends the request's session: the session cookie is expired and
// e.Auth is cleared for the rest of the request. Nothing is deleted (a
// guest's record stays until the cleanup job removes it).
//
// A cross-site browser request gets a 403 and keeps its session (see
// CheckSameOrigin): another site must not be able to sign a visitor out.
func (p *Plugin) SignOut(e *core.RequestEvent) error {
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return err
	}
	ClearAuthCookie(e)
	e.Auth = nil
	return nil
}

// replaceCookie sets cookie on the response, dropping an earlier Set-Cookie of
// the same name from this response (a sign-in followed by an upgrade in one
// request must leave one pb_auth, the last) while keeping every other cookie.
func replaceCookie(e *core.RequestEvent, cookie *http.Cookie) {
	dropSetCookie(e, cookie.Name)
	e.SetCookie(cookie)
}

// EncodeAuthCookie returns the pb_auth cookie value for token and record:
// encodeURIComponent(JSON.stringify({token, record})), byte for byte what the
// JS SDK writes, so authStore.loadFromCookie reads it back.
func EncodeAuthCookie(token string, record *core.Record) (string, error) {
	var recordData any
	if record != nil {
		// The cookie belongs to the record's owner: include their email as
		// PocketBase's auth responses do, whatever emailVisibility says.
		// (PublicExport plus the email, rather than a Clone with
		// IgnoreEmailVisibility: the same JSON at half the cost, which
		// matters to sliding sessions that write this on renewals.)
		export := record.PublicExport()
		if _, ok := export[core.FieldNameEmail]; !ok && record.Collection().IsAuth() && !record.EmailVisibility() {
			export[core.FieldNameEmail] = record.Email()
		}
		recordData = export
	}

	raw, err := json.Marshal(cookiePayload{Token: token, Record: recordData})
	if err != nil {
		return "", err
	}

	if len(raw) > maxCookieBytes && record != nil {
		raw, err = json.Marshal(cookiePayload{Token: token, Record: trimmedRecord(record)})
		if err != nil {
			return "", err
		}
	}

	return uricomponent.Encode(string(raw)), nil
}

// DecodeAuthCookie parses a pb_auth cookie value (as written by
// EncodeAuthCookie or by the JS SDK) and returns its token. It does not
// verify the token: the auth middleware does.
func DecodeAuthCookie(value string) (string, error) {
	token, _, err := decodeAuthCookie(value)
	return token, err
}

// decodeAuthCookie is DecodeAuthCookie that also returns the record JSON the
// cookie carries (as it is; nil if none), which a renewal may reuse.
func decodeAuthCookie(value string) (string, json.RawMessage, error) {
	// The SDK's cookie parser accepts a double-quoted value; so do we.
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	if value == "" {
		return "", nil, errors.New("empty pb_auth cookie")
	}

	decoded, err := url.PathUnescape(value)
	if err != nil {
		return "", nil, errors.New("malformed pb_auth cookie encoding")
	}

	var payload struct {
		Token  string          `json:"token"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal([]byte(decoded), &payload); err != nil {
		return "", nil, errors.New("malformed pb_auth cookie JSON")
	}
	if payload.Token == "" {
		return "", nil, errors.New("pb_auth cookie has no token")
	}

	return payload.Token, payload.Record, nil
}

// trimmedRecord keeps the identity fields of a record whose full JSON would
// not fit in a cookie.
func trimmedRecord(record *core.Record) map[string]any {
	return map[string]any{
		core.FieldNameId:             record.Id,
		core.FieldNameCollectionId:   record.Collection().Id,
		core.FieldNameCollectionName: record.Collection().Name,
		core.FieldNameEmail:          record.Email(),
		core.FieldNameVerified:       record.Verified(),
		FieldIsAnonymous:             record.GetBool(FieldIsAnonymous),
	}
}

// tokenExpiry reads the exp claim of a token we just issued (no signature
// check needed: the cookie only mirrors it).
func tokenExpiry(token string) (time.Time, bool) {
	claims, err := security.ParseUnverifiedJWT(token)
	if err != nil {
		return time.Time{}, false
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}, false
	}
	return exp.Time, true
}

// IsHTTPS reports whether the client sees this site over HTTPS: a TLS
// connection, or X-Forwarded-Proto: https from a trusted proxy (one is
// configured: Settings > TrustedProxy.Headers is not empty, the same rule
// PocketBase's e.RealIP follows). Every cookie and absolute URL PocketGuest
// builds uses it, so a client cannot talk the server into a Secure cookie or
// an https:// link by sending the header itself.
func IsHTTPS(e *core.RequestEvent) bool {
	if e.IsTLS() {
		return true
	}
	if len(e.App.Settings().TrustedProxy.Headers) > 0 {
		return strings.EqualFold(e.Request.Header.Get("X-Forwarded-Proto"), "https")
	}
	return false
}

// registerCookieSession binds the middleware that turns the pb_auth cookie
// into a normal PocketBase session.
func (p *Plugin) registerCookieSession() error {
	csrf := http.NewCrossOriginProtection()
	for _, origin := range p.config.TrustedOrigins {
		if err := csrf.AddTrustedOrigin(origin); err != nil {
			return fmt.Errorf("invalid Config.TrustedOrigins entry %q: %w", origin, err)
		}
	}

	p.csrf = csrf

	p.app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Func: func(se *core.ServeEvent) error {
			p.warnInsecureCookieName(se)
			se.Router.Bind(&hook.Handler[*core.RequestEvent]{
				Id:       cookieMiddlewareId,
				Priority: priorityCookieSession, // hookorder.go
				Func: func(e *core.RequestEvent) error {
					return p.cookieAuth(e)
				},
			})
			return se.Next()
		},
	})

	return nil
}

// warnInsecureCookieName complains at start when a __Host-/__Secure- cookie
// name cannot work: browsers accept such a cookie only over HTTPS, and this
// server neither terminates TLS itself nor trusts a proxy that does, so every
// sign-in would answer 200 and no session would stick.
func (p *Plugin) warnInsecureCookieName(se *core.ServeEvent) {
	name := p.config.CookieName
	if !needsSecure(name) || (se.Server != nil && se.Server.TLSConfig != nil) ||
		len(se.App.Settings().TrustedProxy.Headers) > 0 {
		return
	}
	se.App.Logger().Warn("anonauth: the session cookie name "+strconv.Quote(name)+
		" needs HTTPS, but the server has no TLS and no trusted proxy is configured; "+
		"browsers other than on localhost will drop the cookie (serve with --https, or set "+
		"Settings > Trusted proxy headers behind a TLS proxy, or use a name without the prefix)",
		"cookieName", name)
}

func (p *Plugin) cookieAuth(e *core.RequestEvent) error {
	if e.Request.Header.Get("Authorization") != "" {
		return e.Next() // an explicit token always wins over the cookie
	}

	name := p.config.CookieName
	cookies := e.Request.CookiesNamed(name)
	if len(cookies) == 0 {
		return e.Next()
	}
	// Two cookies of one name differ in Path or Domain, and the browser sends
	// the narrower one first: a cookie planted for /checkout or for the whole
	// parent domain (from a sibling subdomain) would win over the visitor's
	// own. Taking either is guessing, so neither is taken.
	if len(cookies) > 1 {
		return errDuplicateCookie(name)
	}
	if cookies[0].Value == "" {
		return e.Next()
	}

	token, recordJSON, err := decodeAuthCookie(cookies[0].Value)
	if err != nil {
		return e.Next() // a garbled cookie is simply no session
	}
	exp, renewable, expired := p.cookieToken(token) // sliding.go
	if expired {
		return e.Next() // an expired session is no session (and is never renewed)
	}

	// A browser attaches the cookie to any request to this site, including a
	// form another site submits: an unsafe method authenticated by nothing
	// but the cookie must come from our own origin (Sec-Fetch-Site, falling
	// back to Origin; see net/http.CrossOriginProtection).
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return err
	}

	e.Request.Header.Set("Authorization", token)
	e.Set(cookieSessionKey, true)
	if renewable {
		e.Set(cookieRenewalKey, &cookieSession{exp: exp, record: recordJSON})
	}

	return e.Next()
}

// CheckSameOrigin returns a 403 *router.ApiError for an unsafe (POST, PUT,
// PATCH, DELETE) browser request from another origin than the request's own
// or Config.TrustedOrigins, and nil otherwise (safe methods and non-browser
// clients, which send neither Sec-Fetch-Site nor Origin, pass).
//
// It applies to:
//
//   - cookie-authenticated requests (the cookie middleware), because a
//     browser attaches the cookie to a form another site submits;
//   - every request that sets or clears the session cookie, with or without
//     one: guest sign-in (HTTP, Go and JS), upgrade, delete and sign-out.
//     A cross-site form post carries no SameSite=Lax cookie, yet its answer
//     would still plant a new session in the browser (login CSRF: a
//     signed-in user silently becomes a fresh guest);
//   - every unsafe request to a template page, which can do any of the above.
func (p *Plugin) CheckSameOrigin(r *http.Request) error {
	if err := p.csrf.Check(r); err != nil {
		return router.NewForbiddenError("Cross-site request rejected: unsafe requests must come from the same origin.", nil)
	}
	return nil
}
