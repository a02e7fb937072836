package gojax

import (
	"net/http"
	"reflect"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// The guest-account adapters both JS sides use: JS arguments in, anonauth
// calls, JS values out. Errors are thrown (see Throw).

// SignIn runs anonauth's SignIn for e with the JS options value and returns
// the JS AuthData {token, record}.
func SignIn(vm *goja.Runtime, guests *anonauth.Plugin, e *core.RequestEvent, options goja.Value) goja.Value {
	opts, err := SignInOptions(options)
	if err != nil {
		Throw(vm, err)
	}
	auth, err := guests.SignIn(e, opts)
	if err != nil {
		Throw(vm, err)
	}
	return AuthData(vm, auth.Token, auth.Record)
}

// Upgrade runs anonauth's Upgrade for e with the JS input {email, password,
// passwordConfirm, name?} and returns {token, record}.
func Upgrade(vm *goja.Runtime, guests *anonauth.Plugin, e *core.RequestEvent, input goja.Value) goja.Value {
	in, err := UpgradeInput(input)
	if err != nil {
		Throw(vm, err)
	}
	auth, err := guests.Upgrade(e, in)
	if err != nil {
		Throw(vm, err)
	}
	return AuthData(vm, auth.Token, auth.Record)
}

// RequestUpgradeOTP is requestUpgradeOTP(e, email) → {otpId}: anonauth's
// RequestUpgradeOTP for the request's guest.
func RequestUpgradeOTP(vm *goja.Runtime, guests *anonauth.Plugin, e *core.RequestEvent, email goja.Value) goja.Value {
	address, ok := stringArg(email)
	if !ok {
		Throw(vm, BadArg("requestUpgradeOTP: the email must be a string"))
	}
	otpId, err := guests.RequestUpgradeOTP(e, address)
	if err != nil {
		Throw(vm, err)
	}
	obj := vm.NewObject()
	obj.Set("otpId", otpId)
	return obj
}

// ConfirmUpgradeOTP is confirmUpgradeOTP(e, otpId, code) → {token, record}:
// anonauth's ConfirmUpgradeOTP for the request's guest.
func ConfirmUpgradeOTP(vm *goja.Runtime, guests *anonauth.Plugin, e *core.RequestEvent, otpId, code goja.Value) goja.Value {
	id, ok1 := stringArg(otpId)
	password, ok2 := stringArg(code)
	if !ok1 || !ok2 {
		Throw(vm, BadArg("confirmUpgradeOTP: the otpId and the code must be strings"))
	}
	auth, err := guests.ConfirmUpgradeOTP(e, id, password)
	if err != nil {
		Throw(vm, err)
	}
	return AuthData(vm, auth.Token, auth.Record)
}

// stringArg is v as a string, if it is one.
func stringArg(v goja.Value) (string, bool) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return "", false
	}
	s, ok := v.Export().(string)
	return s, ok
}

// AuthData is the JS AuthData {token, record} every sign-in global
// returns. record is the *core.Record itself, so record.id, record.email()
// and record.get("isAnonymous") work as in any hook.
func AuthData(vm *goja.Runtime, token string, record *core.Record) goja.Value {
	obj := vm.NewObject()
	obj.Set("token", token)
	obj.Set("record", record)
	return obj
}

// RequireGuests returns guests, or the plugin registered on app when guests
// is nil, or throws a 500 naming the missing setup.
func RequireGuests(vm *goja.Runtime, app core.App, guests *anonauth.Plugin) *anonauth.Plugin {
	if guests != nil {
		return guests
	}
	if app != nil {
		if p := anonauth.FromApp(app); p != nil {
			return p
		}
	}
	Throw(vm, router.NewInternalServerError("Anonymous sign-in is not set up: register the anonauth plugin", nil))
	return nil
}

// SignOut ends the request's session: the session cookie is expired and
// e.Auth is cleared for the rest of the request. A cross-site browser
// request is refused (403) and keeps its session (anonauth.Plugin.SignOut):
// another site must not be able to sign a visitor out.
func SignOut(e *core.RequestEvent) error {
	if guests := anonauth.FromApp(e.App); guests != nil {
		return guests.SignOut(e)
	}
	if err := defaultOriginCheck.Check(e.Request); err != nil {
		return router.NewForbiddenError("Cross-site request rejected: unsafe requests must come from the same origin.", nil)
	}
	anonauth.ClearAuthCookie(e)
	e.Auth = nil
	return nil
}

// defaultOriginCheck is the same-origin policy of SignOut when no anonauth
// plugin is registered (its own, with Config.TrustedOrigins, wins otherwise).
var defaultOriginCheck = http.NewCrossOriginProtection()

// SignInOptions reads {collection, fresh} from JS. undefined/null mean the
// defaults; a bare string is taken as the collection name.
func SignInOptions(v goja.Value) (anonauth.SignInOptions, error) {
	var opts anonauth.SignInOptions
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return opts, nil
	}
	switch x := v.Export().(type) {
	case string:
		opts.Collection = x
	case map[string]any:
		if c, ok := x["collection"]; ok && c != nil {
			name, isString := c.(string)
			if !isString {
				return opts, BadArg("Invalid options for signInAnonymously: collection must be a string")
			}
			opts.Collection = name
		}
		if f, ok := x["fresh"]; ok && f != nil {
			fresh, isBool := f.(bool)
			if !isBool {
				return opts, BadArg("Invalid options for signInAnonymously: fresh must be a boolean")
			}
			opts.Fresh = fresh
		}
	default:
		return opts, BadArg("Invalid options for signInAnonymously: expected an object like {collection: \"users\"}")
	}
	return opts, nil
}

// UpgradeInput reads {email, password, passwordConfirm, name} from JS.
// Missing fields are empty (and reported by Upgrade as 422 field errors);
// a field of the wrong type is a 400.
func UpgradeInput(v goja.Value) (anonauth.UpgradeInput, error) {
	var in anonauth.UpgradeInput
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return in, BadArg("upgradeAnonymous: the second argument must be an object like {email, password, passwordConfirm, name}")
	}
	m, ok := v.Export().(map[string]any)
	if !ok {
		return in, BadArg("upgradeAnonymous: the second argument must be an object like {email, password, passwordConfirm, name}")
	}
	fields := map[string]*string{
		"email":           &in.Email,
		"password":        &in.Password,
		"passwordConfirm": &in.PasswordConfirm,
		"name":            &in.Name,
	}
	for key, dst := range fields {
		raw, present := m[key]
		if !present || raw == nil {
			continue
		}
		s, isString := raw.(string)
		if !isString {
			return in, BadArg("upgradeAnonymous: %s must be a string", key)
		}
		*dst = s
	}
	return in, nil
}

var requestEventType = reflect.TypeOf((*core.RequestEvent)(nil))

// RequestEventArg extracts the *core.RequestEvent a hook received. It takes
// the pointer the JS wrapper holds (so cookies and e.Auth written through it
// reach the real response), and also accepts events that embed one, like
// the e of onRecordAuthRequest.
func RequestEventArg(v goja.Value) (*core.RequestEvent, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, BadArg("the first argument must be the request event (e) of the route or hook")
	}
	exported := v.Export()
	if e, ok := exported.(*core.RequestEvent); ok && e != nil {
		return e, nil
	}
	rv := reflect.ValueOf(exported)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
		if f := rv.Elem().FieldByName("RequestEvent"); f.IsValid() && f.Type() == requestEventType && !f.IsNil() {
			return f.Interface().(*core.RequestEvent), nil
		}
	}
	return nil, BadArg("the first argument must be the request event (e) of the route or hook, got %T", exported)
}
