package pages

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pocketguest/pocketguest/anonauth"

	"github.com/pocketguest/pocketguest/internal/gojax"
	"github.com/pocketguest/pocketguest/internal/uricomponent"
	"github.com/pocketguest/pocketguest/pages/plugins"
)

// PocketPages' auth helpers, same names and argument order, for pages:
//
//	signIn(authData)                                 → {token, record}
//	signInWithPassword(email, password, {collection})
//	registerWithPassword(email, password, {collection, sendVerificationEmail})
//	requestOTP(email, {collection})                  → {otpId}
//	signInWithOTP(otpId, password, {collection})
//	requestOAuth2Login(provider, {collection, redirectPath, autoRedirect}) → auth URL
//	signInWithOAuth2(state, code)
//	signOut()
//
// Each successful sign-in sets e.Auth and the same pb_auth cookie as
// signInAnonymously, and the page sees the account in request.auth at once.
//
// PocketPages calls its own server over HTTP with the JS SDK. We call
// PocketBase's own auth handlers in-process instead: the request is built in
// memory and dispatched through the app's router (no socket, no SDK, no
// server URL), so every PocketBase rule applies exactly as for the REST API
// (password/OTP/OAuth2 options, MFA, rate limits, OnRecordAuth*Request hooks)
// and so does anonauth's conversion: when the page carries a guest session,
// the guest is merged into (or converted to) the account it signs in to.
//
// A guest that registers is upgraded in place (same record id, so its cart
// and orders stay) instead of creating a second account.

// oauth2CookieName holds the state of a pending OAuth2 login.
const oauth2CookieName = "pb_oauth2"

// oauth2StateTTL is how long an OAuth2 login may take.
const oauth2StateTTL = 10 * time.Minute

// call sends a JSON POST to PocketBase's route as the page's client: same
// remote address and user agent, and the session the page has now. The
// helpers go through PocketBase's own auth routes, so that collection
// options, MFA, rate limits and every OnRecordAuth*Request hook (anonauth's
// merge included) apply exactly as for the REST API; the route's own
// Set-Cookie is dropped: the caller applies the outcome to the page's real
// response itself.
func (v *pageVM) call(st *renderState, path string, body map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	headers := map[string]string{"Content-Type": "application/json"}
	if st.e.Auth != nil && st.token != "" {
		headers["Authorization"] = st.token
	}
	status, resBody, err := plugins.DispatchInProcess(v.pg.api.httpHandler(), st.e, http.MethodPost, path, headers, raw)
	if err != nil {
		return nil, err
	}

	var out map[string]any
	_ = json.Unmarshal(resBody, &out)
	if status >= 400 {
		msg, _ := out["message"].(string)
		return nil, router.NewApiError(status, msg, out["data"])
	}
	return out, nil
}

// finishSignIn makes the page's request signed in as the account behind
// token: e.Auth, the pb_auth cookie and request.auth. It returns {token, record}.
func (v *pageVM) finishSignIn(st *renderState, token string) goja.Value {
	record, err := st.e.App.FindAuthRecordByToken(token, core.TokenTypeAuth)
	if err != nil {
		gojax.Throw(v.rt, router.NewUnauthorizedError("Invalid or expired auth token.", nil))
	}
	if err := anonauth.SetAuthCookie(st.e, token, record); err != nil {
		gojax.Throw(v.rt, err)
	}
	st.e.Auth = record
	st.token = token
	v.refreshAuth(st)

	return gojax.AuthData(v.rt, token, record)
}

// authResponse finishes a sign-in from a PocketBase auth response.
func (v *pageVM) authResponse(st *renderState, res map[string]any) goja.Value {
	token, _ := res["token"].(string)
	if token == "" {
		gojax.Throw(v.rt, router.NewInternalServerError("The auth response has no token.", nil))
	}
	return v.finishSignIn(st, token)
}

// collectionOption reads options.collection (default "users") from the
// argument at index i.
func collectionOption(call goja.FunctionCall, i int) string {
	if opts, ok := call.Argument(i).(*goja.Object); ok {
		if c := opts.Get("collection"); c != nil && !goja.IsUndefined(c) && !goja.IsNull(c) {
			return c.String()
		}
	}
	return anonauth.DefaultCollection
}

func boolOption(call goja.FunctionCall, i int, name string) (value, set bool) {
	if opts, ok := call.Argument(i).(*goja.Object); ok {
		if b := opts.Get(name); b != nil && !goja.IsUndefined(b) {
			return b.ToBoolean(), true
		}
	}
	return false, false
}

func stringOption(call goja.FunctionCall, i int, name string) string {
	if opts, ok := call.Argument(i).(*goja.Object); ok {
		if s := opts.Get(name); s != nil && !goja.IsUndefined(s) && !goja.IsNull(s) {
			return s.String()
		}
	}
	return ""
}

func collectionPath(collection, action string) string {
	return "/api/collections/" + url.PathEscape(collection) + "/" + action
}

// jsSignInWith is signIn(authData): a session from a token obtained
// elsewhere (e.g. another helper, or a hook). The token is verified.
func (v *pageVM) jsSignInWith(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "signIn")
	defer v.enterNative()()
	st := v.current("signIn")
	data, ok := call.Argument(0).(*goja.Object)
	if !ok {
		gojax.Throw(v.rt, gojax.BadArg("signIn expects the auth data {token, record}"))
	}
	token := data.Get("token")
	if token == nil || !goja.IsString(token) || token.String() == "" {
		gojax.Throw(v.rt, gojax.BadArg("signIn expects the auth data {token, record}"))
	}
	return v.finishSignIn(st, token.String())
}

// jsSignInWithPassword is signInWithPassword(email, password, {collection}).
func (v *pageVM) jsSignInWithPassword(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "signInWithPassword")
	defer v.enterNative()()
	st := v.current("signInWithPassword")
	res, err := v.call(st, collectionPath(collectionOption(call, 2), "auth-with-password"), map[string]any{
		"identity": gojax.StringArg(v.rt, call, 0, "signInWithPassword", "email"),
		"password": gojax.StringArg(v.rt, call, 1, "signInWithPassword", "password"),
	})
	if err != nil {
		gojax.Throw(v.rt, err)
	}
	return v.authResponse(st, res)
}

// jsRegisterWithPassword is registerWithPassword(email, password,
// {collection, sendVerificationEmail}): creates the account and signs in. A
// guest of that collection is upgraded in place instead.
func (v *pageVM) jsRegisterWithPassword(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "registerWithPassword")
	defer v.enterNative()()
	st := v.current("registerWithPassword")
	collection := collectionOption(call, 2)
	email := gojax.StringArg(v.rt, call, 0, "registerWithPassword", "email")
	password := gojax.StringArg(v.rt, call, 1, "registerWithPassword", "password")

	if guests := v.pg.p.guests(); guests != nil && anonauth.IsAnonymous(st.e.Auth) && st.e.Auth.Collection().Name == collection {
		auth, err := guests.Upgrade(st.e, anonauth.UpgradeInput{Email: email, Password: password, PasswordConfirm: password})
		if err != nil {
			gojax.Throw(v.rt, err)
		}
		return v.finishSignIn(st, auth.Token)
	}

	if _, err := v.call(st, collectionPath(collection, "records"), map[string]any{
		"email":           email,
		"password":        password,
		"passwordConfirm": password,
	}); err != nil {
		gojax.Throw(v.rt, err)
	}
	if send, _ := boolOption(call, 2, "sendVerificationEmail"); send {
		if _, err := v.call(st, collectionPath(collection, "request-verification"), map[string]any{"email": email}); err != nil {
			v.pg.p.app.Logger().Warn("registerWithPassword: verification email not sent", "error", err)
		}
	}
	res, err := v.call(st, collectionPath(collection, "auth-with-password"), map[string]any{"identity": email, "password": password})
	if err != nil {
		gojax.Throw(v.rt, err)
	}
	return v.authResponse(st, res)
}

// jsRequestOTP is requestOTP(email, {collection}) → {otpId}. As in
// PocketBase, an unknown email gets a dummy otpId (no email enumeration).
func (v *pageVM) jsRequestOTP(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "requestOTP")
	defer v.enterNative()()
	st := v.current("requestOTP")
	res, err := v.call(st, collectionPath(collectionOption(call, 1), "request-otp"), map[string]any{"email": gojax.StringArg(v.rt, call, 0, "requestOTP", "email")})
	if err != nil {
		gojax.Throw(v.rt, err)
	}
	return v.rt.ToValue(res)
}

// jsSignInWithOTP is signInWithOTP(otpId, password, {collection}).
func (v *pageVM) jsSignInWithOTP(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "signInWithOTP")
	defer v.enterNative()()
	st := v.current("signInWithOTP")
	res, err := v.call(st, collectionPath(collectionOption(call, 2), "auth-with-otp"), map[string]any{
		"otpId":    gojax.StringArg(v.rt, call, 0, "signInWithOTP", "otpId"),
		"password": gojax.StringArg(v.rt, call, 1, "signInWithOTP", "password"),
	})
	if err != nil {
		gojax.Throw(v.rt, err)
	}
	return v.authResponse(st, res)
}

// oauth2State is what the pb_oauth2 cookie keeps between the redirect to
// the provider and the return.
type oauth2State struct {
	State        string `json:"state"`
	CodeVerifier string `json:"codeVerifier"`
	Provider     string `json:"provider"`
	Collection   string `json:"collection"`
	RedirectURL  string `json:"redirectURL"`
}

// jsRequestOAuth2Login is requestOAuth2Login(provider, {collection,
// redirectPath = "/auth/oauth2", autoRedirect = true}): it keeps a fresh
// state and PKCE verifier in an HttpOnly cookie and redirects to the
// provider (or returns its URL when autoRedirect is false). redirectPath is
// the page that calls signInWithOAuth2(params.state, params.code).
func (v *pageVM) jsRequestOAuth2Login(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "requestOAuth2Login")
	defer v.enterNative()()
	st := v.current("requestOAuth2Login")
	name := gojax.StringArg(v.rt, call, 0, "requestOAuth2Login", "provider")
	collectionName := collectionOption(call, 1)
	redirectPath := stringOption(call, 1, "redirectPath")
	if redirectPath == "" {
		redirectPath = "/auth/oauth2"
	}
	autoRedirect := true
	if b, set := boolOption(call, 1, "autoRedirect"); set {
		autoRedirect = b
	}

	collection, err := st.e.App.FindCachedCollectionByNameOrId(collectionName)
	if err != nil || !collection.IsAuth() {
		gojax.Throw(v.rt, router.NewNotFoundError("Missing or invalid auth collection "+collectionName+".", nil))
	}
	if !collection.OAuth2.Enabled {
		gojax.Throw(v.rt, router.NewForbiddenError("The collection is not configured to allow OAuth2 authentication.", nil))
	}
	config, ok := collection.OAuth2.GetProviderConfig(name)
	if !ok {
		gojax.Throw(v.rt, router.NewBadRequestError("Unknown OAuth2 provider "+name+".", nil))
	}
	provider, err := config.InitProvider()
	if err != nil {
		gojax.Throw(v.rt, router.NewBadRequestError("Failed to init the OAuth2 provider "+name+".", nil))
	}

	s := oauth2State{
		State:       security.RandomString(30),
		Provider:    name,
		Collection:  collection.Name,
		RedirectURL: absoluteURL(st.e, redirectPath),
	}
	provider.SetRedirectURL(s.RedirectURL)
	authURL, verifier := oauth2AuthURL(provider, name, s.State)
	s.CodeVerifier = verifier
	sameSite := oauth2StateSameSite(name)

	raw, _ := json.Marshal(s)
	http.SetCookie(st.e.Response, &http.Cookie{
		Name:     oauth2CookieName,
		Value:    uricomponent.Encode(string(raw)),
		Path:     "/",
		MaxAge:   int(oauth2StateTTL / time.Second),
		HttpOnly: true,
		Secure:   anonauth.IsHTTPS(st.e) || sameSite == http.SameSiteNoneMode, // the session cookie's rule: TLS, or a trusted proxy saying so
		SameSite: sameSite,                                                    // sent on the provider's redirect back (oauth2url.go)
	})

	if autoRedirect {
		v.redirect(st, authURL, http.StatusFound, "")
	}
	return v.rt.ToValue(authURL)
}

// jsSignInWithOAuth2 is signInWithOAuth2(state, code): the state must
// match the one kept by requestOAuth2Login (else a 400 and no sign-in); the
// code is exchanged by PocketBase's auth-with-oauth2.
func (v *pageVM) jsSignInWithOAuth2(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "signInWithOAuth2")
	defer v.enterNative()()
	st := v.current("signInWithOAuth2")
	state := gojax.StringArg(v.rt, call, 0, "signInWithOAuth2", "state")
	code := gojax.StringArg(v.rt, call, 1, "signInWithOAuth2", "code")

	var s oauth2State
	if c, err := st.e.Request.Cookie(oauth2CookieName); err == nil {
		if raw, err := url.PathUnescape(c.Value); err == nil {
			_ = json.Unmarshal([]byte(raw), &s)
		}
	}
	// one attempt per login, whatever the outcome
	http.SetCookie(st.e.Response, &http.Cookie{Name: oauth2CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: anonauth.IsHTTPS(st.e), SameSite: http.SameSiteLaxMode})

	if s.State == "" || state == "" || subtle.ConstantTimeCompare([]byte(s.State), []byte(state)) != 1 {
		gojax.Throw(v.rt, router.NewBadRequestError("OAuth2 state mismatch: start the login again.", nil))
	}
	if code == "" {
		gojax.Throw(v.rt, router.NewBadRequestError("Missing OAuth2 code.", nil))
	}

	res, err := v.call(st, collectionPath(s.Collection, "auth-with-oauth2"), map[string]any{
		"provider":     s.Provider,
		"code":         code,
		"codeVerifier": s.CodeVerifier,
		"redirectURL":  s.RedirectURL,
	})
	if err != nil {
		gojax.Throw(v.rt, err)
	}
	return v.authResponse(st, res)
}

// absoluteURL makes path absolute for the request's own origin (the
// provider redirects the browser there). The scheme follows the same rule as
// the session cookie's Secure flag (anonauth.IsHTTPS): X-Forwarded-Proto
// counts only when a trusted proxy is configured, so a client cannot pick
// the scheme of the redirect URL by sending the header itself.
func absoluteURL(e *core.RequestEvent, path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	scheme := "http"
	if anonauth.IsHTTPS(e) {
		scheme = "https"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return scheme + "://" + e.Request.Host + path
}
