package jsvm

import (
	"reflect"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// The globals every PocketBase JS VM gets (pb_hooks loader and executors,
// migrations, page VMs), bound through the jsvm plugin's OnInit:
//
//	signInAnonymously(e, options?) → {token, record}
//	signOut(e)
//
// plus the guest conversion globals of conversion.go (upgradeAnonymous,
// deleteAnonymous, onAnonymousLink). There is no "current request" in a hooks VM, so the event must be passed
// in. Page VMs replace both with versions that default to the page's request
// (see context.go).

func (p *plugin) bindGlobals(vm *goja.Runtime) {
	vm.Set("signInAnonymously", func(call goja.FunctionCall) goja.Value {
		defer guard(p.app, vm, "signInAnonymously")
		e, err := requestEventArg(call.Argument(0))
		if err != nil {
			throw(vm, err)
		}
		return p.signIn(vm, e, call.Argument(1))
	})

	vm.Set("signOut", func(call goja.FunctionCall) goja.Value {
		defer guard(p.app, vm, "signOut")
		e, err := requestEventArg(call.Argument(0))
		if err != nil {
			throw(vm, err)
		}
		signOut(e)
		return goja.Undefined()
	})

	bindConversionHooksWith(vm, p.config.Guests, p.onInit)
}

// signIn runs anonauth's SignIn for e with the JS options value and returns
// the JS AuthData {token, record}. record is the *core.Record itself, so
// record.id, record.email() and record.get("isAnonymous") work as in any
// hook. Errors are thrown (see throw).
func (p *plugin) signIn(vm *goja.Runtime, e *core.RequestEvent, options goja.Value) goja.Value {
	opts, err := signInOptions(options)
	if err != nil {
		throw(vm, err)
	}
	auth, err := p.requireGuests(vm).SignIn(e, opts)
	if err != nil {
		throw(vm, err)
	}
	return authDataValue(vm, auth.Token, auth.Record)
}

// authDataValue is the JS AuthData {token, record} every sign-in global
// returns. record is the *core.Record itself, so record.id, record.email()
// and record.get("isAnonymous") work as in any hook.
func authDataValue(vm *goja.Runtime, token string, record *core.Record) goja.Value {
	obj := vm.NewObject()
	obj.Set("token", token)
	obj.Set("record", record)
	return obj
}

// requireGuests returns the anonauth plugin, or throws a 500 naming the
// missing setup.
func (p *plugin) requireGuests(vm *goja.Runtime) *anonauth.Plugin {
	guests := p.guests()
	if guests == nil {
		throw(vm, router.NewInternalServerError("Anonymous sign-in is not set up: register the anonauth plugin", nil))
	}
	return guests
}

// signOut ends the request's session: the pb_auth cookie is expired and
// e.Auth is cleared for the rest of the request.
func signOut(e *core.RequestEvent) {
	anonauth.ClearAuthCookie(e)
	e.Auth = nil
}

// signInOptions reads {collection, fresh} from JS. undefined/null mean the
// defaults; a bare string is taken as the collection name.
func signInOptions(v goja.Value) (anonauth.SignInOptions, error) {
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
				return opts, badArg("Invalid options for signInAnonymously: collection must be a string")
			}
			opts.Collection = name
		}
		if f, ok := x["fresh"]; ok && f != nil {
			fresh, isBool := f.(bool)
			if !isBool {
				return opts, badArg("Invalid options for signInAnonymously: fresh must be a boolean")
			}
			opts.Fresh = fresh
		}
	default:
		return opts, badArg("Invalid options for signInAnonymously: expected an object like {collection: \"users\"}")
	}
	return opts, nil
}

var requestEventType = reflect.TypeOf((*core.RequestEvent)(nil))

// requestEventArg extracts the *core.RequestEvent a hook received. It takes
// the pointer the JS wrapper holds (so cookies and e.Auth written through it
// reach the real response), and also accepts events that embed one, like
// the e of onRecordAuthRequest.
func requestEventArg(v goja.Value) (*core.RequestEvent, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, badArg("the first argument must be the request event (e) of the route or hook")
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
	return nil, badArg("the first argument must be the request event (e) of the route or hook, got %T", exported)
}
