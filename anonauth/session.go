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
		Id: authResponseHookId,
		// Late, so app hooks that replace e.Record or e.Token run first.
		Priority: 100,
		Func: func(e *core.RecordAuthRequestEvent) error {
			if IsAnonymous(e.Record) && p.IsEnabled(e.Record.Collection().Name) && isRefreshable(e.Token) {
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

			err := e.Next()
			if err != nil && !e.Written() {
				// The auth failed after all (MFA required, a hook said no): the
				// error response must not hand out a session.
				dropSetCookie(e.RequestEvent, CookieName)
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
	header := e.Response.Header()
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
