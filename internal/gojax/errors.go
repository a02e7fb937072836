// Package gojax holds the goja helpers PocketGuest's two JS sides share (the
// pb_hooks globals of package jsvm and the pages engine of package pages):
// how a Go error becomes a catchable JS exception (Throw, Guard), how JS
// arguments become Go values (RequestEventArg, SignInOptions, UpgradeInput),
// and a VM with the globals PocketBase gives its own hooks (NewHooksLikeVM).
package gojax

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Throw raises err in the running JS as a catchable exception.
//
// The thrown value is a GoError (an Error with .message = err.Error()) that
// also carries .status and .data from the *router.ApiError in err (500 and
// {} otherwise). Its .value is err itself, which PocketBase's jsvm unwraps
// when the exception escapes a route handler, so an uncaught sign-in error
// answers with its own status (e.g. 429), not a generic 400.
func Throw(vm *goja.Runtime, err error) {
	panic(Error(vm, err))
}

// Error is the JS value Throw raises for err.
func Error(vm *goja.Runtime, err error) *goja.Object {
	obj := vm.NewGoError(err)
	status, data := http.StatusInternalServerError, any(map[string]any{})
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		status = apiErr.Status
		if apiErr.Data != nil {
			data = apiErr.Data
		}
	}
	obj.Set("status", status)
	obj.Set("data", data)
	return obj
}

// Guard turns a Go panic inside a binding into a catchable JS exception, so
// nothing a script passes can crash the process or leave a VM half-used.
// Values goja itself panics with (thrown JS values, exceptions, interrupts)
// are passed through untouched. Use as: defer gojax.Guard(app, vm, "name").
func Guard(app core.App, vm *goja.Runtime, name string) {
	r := recover()
	if r == nil {
		return
	}
	switch r.(type) {
	case goja.Value, *goja.Exception, *goja.InterruptedError:
		panic(r)
	}
	if app != nil {
		app.Logger().Error("panic in JS binding",
			slog.String("binding", name),
			slog.Any("panic", r),
			slog.String("stack", string(debug.Stack())),
		)
	}
	Throw(vm, router.NewInternalServerError(fmt.Sprintf("Internal error in %s()", name), nil))
}

// BadArg is the error for an invalid argument passed from JS.
func BadArg(format string, args ...any) error {
	return router.NewBadRequestError(fmt.Sprintf(format, args...), nil)
}

// Rethrow re-raises err inside the running JS: goja exceptions and
// interrupts (which must stay uncatchable) as they are, anything else as a
// catchable JS error.
func Rethrow(vm *goja.Runtime, err error) {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		panic(ie)
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		panic(ex)
	}
	panic(vm.NewGoError(err))
}

// StringArg is argument i of the helper fn as text: "" when missing,
// undefined or null, a string or number as it is. Any other shape (an
// object, array or function: what a hostile JSON body puts in a form field)
// throws a 400 naming the argument. goja's Value.String() would instead run
// the object's own toString, which can throw a TypeError (a 500) or run
// arbitrary page code.
func StringArg(vm *goja.Runtime, call goja.FunctionCall, i int, fn, name string) string {
	v := call.Argument(i)
	switch {
	case goja.IsUndefined(v) || goja.IsNull(v):
		return ""
	case goja.IsString(v) || goja.IsNumber(v):
		return v.String()
	}
	Throw(vm, BadArg("Invalid %s() argument: %s must be a string", fn, name))
	return ""
}
