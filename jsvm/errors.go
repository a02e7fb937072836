package jsvm

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

// throw raises err in the running JS as a catchable exception.
//
// The thrown value is a GoError (an Error with .message = err.Error()) that
// also carries .status and .data from the *router.ApiError in err (500 and
// {} otherwise). Its .value is err itself, which PocketBase's jsvm unwraps
// when the exception escapes a route handler, so an uncaught sign-in error
// answers with its own status (e.g. 429), not a generic 400.
func throw(vm *goja.Runtime, err error) {
	panic(jsError(vm, err))
}

func jsError(vm *goja.Runtime, err error) *goja.Object {
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

// guard turns a Go panic inside a binding into a catchable JS exception, so
// nothing a script passes can crash the process or leave a VM half-used.
// Values goja itself panics with (thrown JS values, exceptions, interrupts)
// are passed through untouched. Use as: defer guard(app, vm, "name").
func guard(app core.App, vm *goja.Runtime, name string) {
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
	throw(vm, router.NewInternalServerError(fmt.Sprintf("Internal error in %s()", name), nil))
}

// badArg is the error for an invalid argument passed from JS.
func badArg(format string, args ...any) error {
	return router.NewBadRequestError(fmt.Sprintf(format, args...), nil)
}
