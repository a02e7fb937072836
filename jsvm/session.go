package jsvm

import (
	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// signInAnonymously(), upgradeAnonymous(), deleteAnonymous() and signOut() bound to the page's
// request, and keeping request.auth in step with the session.

// refreshAuth makes the page see the session after a sign-in or sign-out.
func (v *pageVM) refreshAuth(st *renderState) {
	st.request.Set("auth", authValue(st.e.Auth))
	st.request.Set("authToken", st.token)
	st.api.Set("auth", authValue(st.e.Auth))
}

// jsSignIn is signInAnonymously(options?) bound to the page's request. It
// also accepts signInAnonymously(e, options) like the pb_hooks global.
func (v *pageVM) jsSignIn(call goja.FunctionCall) goja.Value {
	defer guard(v.pg.p.app, v.rt, "signInAnonymously")
	defer v.enterNative()()
	if e, err := requestEventArg(call.Argument(0)); err == nil {
		res := v.pg.p.signIn(v.rt, e, call.Argument(1))
		if v.st != nil && e == v.st.e {
			v.st.token = res.ToObject(v.rt).Get("token").String()
			v.refreshAuth(v.st)
		}
		return res
	}
	st := v.current("signInAnonymously")
	res := v.pg.p.signIn(v.rt, st.e, call.Argument(0))
	st.token = res.ToObject(v.rt).Get("token").String()
	v.refreshAuth(st)
	return res
}

// jsUpgrade is upgradeAnonymous(input) for the page's guest (or
// upgradeAnonymous(e, input)).
func (v *pageVM) jsUpgrade(call goja.FunctionCall) goja.Value {
	defer guard(v.pg.p.app, v.rt, "upgradeAnonymous")
	defer v.enterNative()()
	e, input := (*core.RequestEvent)(nil), call.Argument(0)
	if ev, err := requestEventArg(call.Argument(0)); err == nil {
		e, input = ev, call.Argument(1)
	} else {
		e = v.current("upgradeAnonymous").e
	}
	guests := v.pg.p.guests()
	if guests == nil {
		throw(v.rt, router.NewInternalServerError("Anonymous sign-in is not set up: register the anonauth plugin", nil))
	}
	res := upgradeAnonymousValue(v.rt, guests, e, input)
	if v.st != nil && e == v.st.e {
		v.st.token = res.ToObject(v.rt).Get("token").String()
		v.refreshAuth(v.st)
	}
	return res
}

// jsDeleteAnonymous is deleteAnonymous() for the page's guest (or
// deleteAnonymous(e)): the guest record is deleted, the cookie cleared and
// the rest of the render sees no session.
func (v *pageVM) jsDeleteAnonymous(call goja.FunctionCall) goja.Value {
	defer guard(v.pg.p.app, v.rt, "deleteAnonymous")
	defer v.enterNative()()
	e, err := requestEventArg(call.Argument(0))
	if err != nil {
		e = v.current("deleteAnonymous").e
	}
	guests := v.pg.p.guests()
	if guests == nil {
		throw(v.rt, router.NewInternalServerError("Anonymous sign-in is not set up: register the anonauth plugin", nil))
	}
	if err := guests.DeleteAnonymous(e); err != nil {
		throw(v.rt, err)
	}
	if v.st != nil && e == v.st.e {
		v.st.token = ""
		v.refreshAuth(v.st)
	}
	return goja.Undefined()
}

// jsSignOut is signOut() for the page's request (or signOut(e)).
func (v *pageVM) jsSignOut(call goja.FunctionCall) goja.Value {
	defer guard(v.pg.p.app, v.rt, "signOut")
	defer v.enterNative()()
	if e, err := requestEventArg(call.Argument(0)); err == nil {
		signOut(e)
		if v.st != nil && e == v.st.e {
			v.st.token = ""
			v.refreshAuth(v.st)
		}
		return goja.Undefined()
	}
	st := v.current("signOut")
	signOut(st.e)
	st.token = ""
	v.refreshAuth(st)
	return goja.Undefined()
}
