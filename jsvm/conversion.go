package jsvm

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
	"github.com/pocketguest/pocketguest/internal/gojax"
)

// Guest conversion from JS (hooks; pages wrap the first two with the page's
// request):
//
//	upgradeAnonymous(e, {email, password, passwordConfirm, name?}) → {token, record}
//	requestUpgradeOTP(e, email) → {otpId}       (a code mailed to email)
//	confirmUpgradeOTP(e, otpId, code) → {token, record}
//	deleteAnonymous(e)
//	onAnonymousLink((e) => { e.anonymous; e.account; e.app; e.next() })
//
// The first two are anonauth's Upgrade and DeleteAnonymous on the request
// event the hook received (so the pb_auth cookie and e.auth they set reach the
// real response). Errors are thrown with .message, .status and .data of the
// *router.ApiError (e.g. 409, 422 with field errors).
//
// onAnonymousLink binds a handler to anonauth's OnLink hook, fired inside the
// merge transaction when a guest signs in to an existing account. e.app (and
// $app inside the handler) is the transactional app; e.transferRelations and
// e.deleteAnonymous may be changed before e.next(); a thrown error aborts the
// sign-in and rolls everything back.
//
// Why handlers do not run in PocketBase's hook VMs: the executor pool of
// plugins/jsvm is unexported, and its loader VM must not be shared across
// goroutines. So, exactly like PocketBase's own onXxx bindings, the handler
// is compiled from its source into a goja.Program once (it cannot close over
// file-level variables either), and it runs in a small pool of VMs of our own
// that have PocketBase's standard globals ($app, $apis, $security, $os,
// $http, $mails, require, console, ...; __hooks and $template copied from the
// registering VM), these conversion globals, and whatever linkVMInit adds.

// linkHandlerTimeout bounds one JS link handler: it runs inside a write
// transaction, which blocks every other write of the app while it lasts.
const linkHandlerTimeout = 10 * time.Second

// linkVMPoolSize is how many idle link VMs are kept (merges are rare: a
// one-off VM is created when all are busy).
const linkVMPoolSize = 2

// bindConversionHooks sets upgradeAnonymous, deleteAnonymous and
// onAnonymousLink on vm. guests may be nil: the plugin is then looked up
// from $app when first needed, so anonauth may be registered after jsvm.
// linkVMInit, if not nil, also runs on every VM that executes
// onAnonymousLink handlers, after the standard globals: the plugin passes its
// whole OnInit so link handlers get the same globals as every other hook.
func bindConversionHooks(vm *goja.Runtime, guests *anonauth.Plugin, linkVMInit func(*goja.Runtime)) {
	resolve := func() (*anonauth.Plugin, error) {
		if guests != nil {
			return guests, nil
		}
		if app, ok := vm.Get("$app").Export().(core.App); ok {
			if p := anonauth.FromApp(app); p != nil {
				return p, nil
			}
		}
		return nil, router.NewInternalServerError("Guest conversion is not set up: register the anonauth plugin", nil)
	}

	// requestGlobal sets a global whose first argument is the request event
	// (e) and that calls into the plugin: the argument check, the plugin
	// lookup and the panic guard are the same for each of them.
	requestGlobal := func(name string, fn func(p *anonauth.Plugin, e *core.RequestEvent, call goja.FunctionCall) goja.Value) {
		vm.Set(name, func(call goja.FunctionCall) goja.Value {
			defer gojax.Guard(nil, vm, name)
			e, err := gojax.RequestEventArg(call.Argument(0))
			if err != nil {
				gojax.Throw(vm, err)
			}
			p, err := resolve()
			if err != nil {
				gojax.Throw(vm, err)
			}
			return fn(p, e, call)
		})
	}

	requestGlobal("upgradeAnonymous", func(p *anonauth.Plugin, e *core.RequestEvent, call goja.FunctionCall) goja.Value {
		return gojax.Upgrade(vm, p, e, call.Argument(1))
	})
	requestGlobal("requestUpgradeOTP", func(p *anonauth.Plugin, e *core.RequestEvent, call goja.FunctionCall) goja.Value {
		return gojax.RequestUpgradeOTP(vm, p, e, call.Argument(1))
	})
	requestGlobal("confirmUpgradeOTP", func(p *anonauth.Plugin, e *core.RequestEvent, call goja.FunctionCall) goja.Value {
		return gojax.ConfirmUpgradeOTP(vm, p, e, call.Argument(1), call.Argument(2))
	})
	requestGlobal("deleteAnonymous", func(p *anonauth.Plugin, e *core.RequestEvent, call goja.FunctionCall) goja.Value {
		if err := p.DeleteAnonymous(e); err != nil {
			gojax.Throw(vm, err)
		}
		return goja.Undefined()
	})

	var runner *linkRunner // one per registering VM (the pb_hooks loader)

	vm.Set("onAnonymousLink", func(call goja.FunctionCall) goja.Value {
		defer gojax.Guard(nil, vm, "onAnonymousLink")
		handler, ok := goja.AssertFunction(call.Argument(0))
		if !ok || handler == nil {
			gojax.Throw(vm, gojax.BadArg("onAnonymousLink: the argument must be a function like (e) => { e.next() }"))
		}

		// The same wrapper PocketBase compiles for its own hooks: $app is the
		// event's (transactional) app while the handler runs.
		source := call.Argument(0).String()
		program, err := goja.Compile("onAnonymousLink", `{(function(e) { $app = e.app; return (`+source+`).call(undefined, e) }).apply(undefined, __args)}`, true)
		if err != nil {
			gojax.Throw(vm, gojax.BadArg("onAnonymousLink: cannot compile the handler: %v", err))
		}

		app, _ := vm.Get("$app").Export().(core.App)
		if runner == nil {
			runner = newLinkRunner(app, vm, linkVMInit, guests)
		}

		bind := func(p *anonauth.Plugin) {
			p.OnLink().Bind(&hook.Handler[*anonauth.LinkEvent]{
				Func: func(e *anonauth.LinkEvent) error { return runner.run(program, e) },
			})
		}

		if p, err := resolve(); err == nil {
			bind(p)
		} else if app != nil {
			// anonauth registered after jsvm (pb_hooks load while jsvm
			// registers): bind once the app is bootstrapped.
			app.OnBootstrap().BindFunc(func(be *core.BootstrapEvent) error {
				if err := be.Next(); err != nil {
					return err
				}
				p := anonauth.FromApp(be.App)
				if p == nil {
					be.App.Logger().Error("onAnonymousLink: the anonauth plugin is not registered; the handler is ignored")
					return nil
				}
				bind(p)
				return nil
			})
		} else {
			gojax.Throw(vm, err)
		}
		return goja.Undefined()
	})
}

// linkRunner runs compiled onAnonymousLink handlers in a small pool of VMs.
type linkRunner struct {
	app     core.App
	idle    chan *goja.Runtime
	factory func() *goja.Runtime
}

func newLinkRunner(app core.App, registering *goja.Runtime, init func(*goja.Runtime), guests *anonauth.Plugin) *linkRunner {
	// Values of the registering VM that are plain Go values, safe to share.
	hooksDir := registering.Get("__hooks")
	var templates any
	if t := registering.Get("$template"); t != nil {
		templates = t.Export()
	}

	requireRegistry := new(require.Registry)
	r := &linkRunner{app: app, idle: make(chan *goja.Runtime, linkVMPoolSize)}
	r.factory = func() *goja.Runtime {
		vm := gojax.NewHooksLikeVM(app, requireRegistry, hooksDir, templates)
		bindConversionHooks(vm, guests, init)
		if init != nil {
			init(vm)
		}
		return vm
	}
	return r
}

// run executes program for e in an idle VM (or a one-off one).
func (r *linkRunner) run(program *goja.Program, e *anonauth.LinkEvent) (err error) {
	var vm *goja.Runtime
	select {
	case vm = <-r.idle:
	default:
		vm = r.factory()
	}

	broken := false
	defer func() {
		if rec := recover(); rec != nil {
			// A Go panic in a binding: the VM state is unknown, drop it.
			broken = true
			if r.app != nil {
				r.app.Logger().Error("panic in an onAnonymousLink handler",
					slog.Any("panic", rec), slog.String("stack", string(debug.Stack())))
			}
			err = router.NewInternalServerError("onAnonymousLink: internal error", nil)
		}
		if !broken {
			select {
			case r.idle <- vm:
			default:
			}
		}
	}()

	timer := time.AfterFunc(linkHandlerTimeout, func() {
		vm.Interrupt(fmt.Sprintf("onAnonymousLink handler exceeded %s", linkHandlerTimeout))
	})
	defaultApp := vm.Get("$app")

	vm.Set("__args", []any{e})
	res, runErr := vm.RunProgram(program)
	vm.Set("__args", goja.Undefined())
	vm.Set("$app", defaultApp)

	if !timer.Stop() {
		// The interrupt fired (or is firing): do not pool a VM that may
		// still receive it.
		broken = true
	}
	vm.ClearInterrupt()

	if res != nil {
		if resErr, ok := res.Export().(error); ok {
			return resErr
		}
	}
	return linkException(runErr)
}

// linkException turns what a handler threw into the Go error the hook chain
// returns: the original Go error when it is one (an ApiError thrown by a
// binding or by `throw new BadRequestError(...)` keeps its status), the JS
// error's text otherwise (answered as 400 by PocketBase, like other hooks).
func linkException(err error) error {
	if err == nil {
		return nil
	}
	var jsErr *goja.Exception
	if !errors.As(err, &jsErr) {
		return err
	}
	switch v := jsErr.Value().Export().(type) {
	case error:
		return v
	case map[string]any: // a GoError object
		if inner, ok := v["value"].(error); ok {
			return inner
		}
	}
	return err
}
