package anonauth

import (
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/spf13/cast"
)

// setCookieKey marks a request whose auth response must set the pb_auth
// cookie even though it did not arrive with one (our own sign-in endpoint).
const setCookieKey = "pocketguest.setCookie"

// authResponseHookId identifies our OnRecordAuthRequest handler.
const authResponseHookId = "pocketguestAuthResponse"

// registerAuthResponseHook binds the handler that every PocketBase auth
// response (ours, auth-refresh, auth-with-password, OAuth2, OTP) goes through:
//
//   - a guest's refreshable token is reissued with the guest lifetime
//     (Config.TokenDuration), so auth-refresh extends a live guest session by
//     that much rather than by the collection's own duration;
//   - a request that came with the pb_auth cookie (or our sign-in endpoint)
//     gets the cookie rewritten with the new token, so a cookie session
//     survives refreshes and the token-key rotation of a password change.
func (p *Plugin) registerAuthResponseHook() {
	p.app.OnRecordAuthRequest().Bind(&hook.Handler[*core.RecordAuthRequestEvent]{
		Id:       authResponseHookId,
		Priority: priorityAuthResponse, // hookorder.go
		Func: func(e *core.RecordAuthRequestEvent) error {
			// PocketBase has just signed a token with the collection's duration;
			// a second signing is only needed when the guest lifetime differs
			// (the defaults are both 7 days).
			if IsAnonymous(e.Record) && p.IsEnabled(e.Record.Collection().Name) &&
				e.Record.Collection().AuthToken.DurationTime() != p.config.TokenDuration && isRefreshable(e.Token) {
				token, err := p.NewToken(e.Record)
				if err != nil {
					return e.InternalServerError("Failed to create the guest auth token.", err)
				}
				e.Token = token
			}

			if !wantsCookie(e.RequestEvent) {
				return e.Next()
			}

			if err := SetAuthCookie(e.RequestEvent, e.Token, e.Record); err != nil {
				return e.InternalServerError("Failed to set the auth cookie.", err)
			}

			// The auth may still fail after this point, and PocketBase may
			// write that answer itself before returning: MFA replies 401
			// {mfaId} after the first factor. Such a response must not carry
			// the account's session, so the cookie is dropped at the moment a
			// non-2xx status is written, and again if nothing was written.
			original := e.Response
			e.Response = &successOnlyCookie{ResponseWriter: original, name: p.config.CookieName}
			err := e.Next()
			e.Response = original
			if err != nil && !e.Written() {
				dropSetCookie(e.RequestEvent, p.config.CookieName)
			}
			return err
		},
	})
}

func wantsCookie(e *core.RequestEvent) bool {
	set, _ := e.Get(setCookieKey).(bool)
	fromCookie, _ := e.Get(cookieSessionKey).(bool)
	return set || fromCookie
}

func isRefreshable(token string) bool {
	claims, err := security.ParseUnverifiedJWT(token)
	if err != nil {
		return false
	}
	return cast.ToBool(claims[core.TokenClaimRefreshable])
}

// dropSetCookie removes the Set-Cookie lines of one cookie from the response
// headers, keeping every other cookie.
func dropSetCookie(e *core.RequestEvent, name string) {
	dropHeaderCookie(e.Response.Header(), name)
}

func dropHeaderCookie(header http.Header, name string) {
	values := header.Values("Set-Cookie")
	kept := make([]string, 0, len(values))
	for _, v := range values {
		if !strings.HasPrefix(v, name+"=") {
			kept = append(kept, v)
		}
	}
	header[http.CanonicalHeaderKey("Set-Cookie")] = kept
	if len(kept) == 0 {
		header.Del("Set-Cookie")
	}
}

// successOnlyCookie removes one cookie's Set-Cookie line from a response whose
// status is not 2xx, at the moment that status is written.
type successOnlyCookie struct {
	http.ResponseWriter
	name        string
	wroteHeader bool
}

func (w *successOnlyCookie) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if status < 200 || status > 299 {
			dropHeaderCookie(w.Header(), w.name)
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *successOnlyCookie) Write(b []byte) (int, error) {
	w.wroteHeader = true // an implicit 200
	return w.ResponseWriter.Write(b)
}

// Unwrap lets PocketBase's Written/Status and http.ResponseController reach
// the router's own writer.
func (w *successOnlyCookie) Unwrap() http.ResponseWriter { return w.ResponseWriter }
