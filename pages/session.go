package pages

import (
	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/internal/gojax"
)

// signInAnonymously(), upgradeAnonymous(), requestUpgradeOTP(),
// confirmUpgradeOTP(), deleteAnonymous() and signOut()
// bound to the page's request, and keeping request.auth in step with the
// session.

// refreshAuth makes the page see the session after a sign-in or sign-out.
func (v *pageVM) refreshAuth(st *renderState) {
	st.request.Set("auth", authValue(st.e.Auth))
	st.request.Set("authToken", st.token)
	st.api.Set("auth", authValue(st.e.Auth))
}

// pageEvent resolves the request a page global acts on: an explicit first
// argument e (the pb_hooks form, e.g. signInAnonymously(e, options)) or the
// page's own request. It returns the arguments after e.
func (v *pageVM) pageEvent(call goja.FunctionCall, name string) (*core.RequestEvent, []goja.Value) {
	if e, err := gojax.RequestEventArg(call.Argument(0)); err == nil {
		return e, call.Arguments[1:]
	}
	return v.current(name).e, call.Arguments
}

// sessionChanged keeps request.auth and request.authToken in step when e is
// the page's own request (token "" after a sign-out).
func (v *pageVM) sessionChanged(e *core.RequestEvent, token string) {
	if v.st != nil && e == v.st.e {
		v.st.token = token
		v.refreshAuth(v.st)
	}
}

// firstArg is args[0], or undefined.
func firstArg(args []goja.Value) goja.Value {
	if len(args) == 0 {
		return goja.Undefined()
	}
	return args[0]
}

// jsSignIn is signInAnonymously(options?) bound to the page's request (or
// signInAnonymously(e, options) like the pb_hooks global).
func (v *pageVM) jsSignIn(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "signInAnonymously")
	defer v.enterNative()()
	e, args := v.pageEvent(call, "signInAnonymously")
	res := gojax.SignIn(v.rt, v.pg.p.requireGuests(v.rt), e, firstArg(args))
	v.sessionChanged(e, res.ToObject(v.rt).Get("token").String())
	return res
}

// jsUpgrade is upgradeAnonymous(input) for the page's guest (or
// upgradeAnonymous(e, input)).
func (v *pageVM) jsUpgrade(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "upgradeAnonymous")
	defer v.enterNative()()
	e, args := v.pageEvent(call, "upgradeAnonymous")
	res := gojax.Upgrade(v.rt, v.pg.p.requireGuests(v.rt), e, firstArg(args))
	v.sessionChanged(e, res.ToObject(v.rt).Get("token").String())
	return res
}

// jsDeleteAnonymous is deleteAnonymous() for the page's guest (or
// deleteAnonymous(e)): the guest record is deleted, the cookie cleared and
// the rest of the render sees no session.
func (v *pageVM) jsDeleteAnonymous(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "deleteAnonymous")
	defer v.enterNative()()
	e, _ := v.pageEvent(call, "deleteAnonymous")
	if err := v.pg.p.requireGuests(v.rt).DeleteAnonymous(e); err != nil {
		gojax.Throw(v.rt, err)
	}
	v.sessionChanged(e, "")
	return goja.Undefined()
}

// jsSignOut is signOut() for the page's request (or gojax.SignOut(e)).
func (v *pageVM) jsSignOut(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "signOut")
	defer v.enterNative()()
	e, _ := v.pageEvent(call, "signOut")
	if err := gojax.SignOut(e); err != nil {
		gojax.Throw(v.rt, err)
	}
	v.sessionChanged(e, "")
	return goja.Undefined()
}

// jsRequestUpgradeOTP is requestUpgradeOTP(email) → {otpId} for the page's
// guest (or requestUpgradeOTP(e, email)).
func (v *pageVM) jsRequestUpgradeOTP(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "requestUpgradeOTP")
	defer v.enterNative()()
	e, args := v.pageEvent(call, "requestUpgradeOTP")
	return gojax.RequestUpgradeOTP(v.rt, v.pg.p.requireGuests(v.rt), e, firstArg(args))
}

// jsConfirmUpgradeOTP is confirmUpgradeOTP(otpId, code) → {token, record}
// for the page's guest (or confirmUpgradeOTP(e, otpId, code)).
func (v *pageVM) jsConfirmUpgradeOTP(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "confirmUpgradeOTP")
	defer v.enterNative()()
	e, args := v.pageEvent(call, "confirmUpgradeOTP")
	code := goja.Undefined()
	if len(args) > 1 {
		code = args[1]
	}
	res := gojax.ConfirmUpgradeOTP(v.rt, v.pg.p.requireGuests(v.rt), e, firstArg(args), code)
	v.sessionChanged(e, res.ToObject(v.rt).Get("token").String())
	return res
}
