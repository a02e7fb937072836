package jsvm

import (
	"github.com/dop251/goja"

	"github.com/pocketguest/pocketguest/anonauth"
	"github.com/pocketguest/pocketguest/internal/gojax"
)

// The globals every PocketBase JS VM gets (pb_hooks loader and executors,
// migrations, page VMs), bound through the jsvm plugin's OnInit:
//
//	signInAnonymously(e, options?) → {token, record}
//	signOut(e)
//	anonymousChallenge(collection?) → {provider, field, url, widgetUrl, siteKey} or null
//
// plus the guest conversion globals of conversion.go (upgradeAnonymous,
// deleteAnonymous, onAnonymousLink). There is no "current request" in a hooks VM, so the event must be passed
// in. Page VMs replace both with versions that default to the page's request
// (package pages).

func (p *Plugin) bindGlobals(vm *goja.Runtime) {
	vm.Set("signInAnonymously", func(call goja.FunctionCall) goja.Value {
		defer gojax.Guard(p.app, vm, "signInAnonymously")
		e, err := gojax.RequestEventArg(call.Argument(0))
		if err != nil {
			gojax.Throw(vm, err)
		}
		return gojax.SignIn(vm, gojax.RequireGuests(vm, p.app, p.config.Guests), e, call.Argument(1))
	})

	vm.Set("signOut", func(call goja.FunctionCall) goja.Value {
		defer gojax.Guard(p.app, vm, "signOut")
		e, err := gojax.RequestEventArg(call.Argument(0))
		if err != nil {
			gojax.Throw(vm, err)
		}
		if err := gojax.SignOut(e); err != nil {
			gojax.Throw(vm, err)
		}
		return goja.Undefined()
	})

	// What a new guest must solve (bot protection), for pages that render
	// the widget; null when it is off.
	vm.Set("anonymousChallenge", func(collection string) any {
		guests := p.config.Guests
		if guests == nil {
			guests = anonauth.FromApp(p.app)
		}
		if guests == nil {
			return nil
		}
		info := guests.Challenge(collection)
		if info == nil {
			return nil
		}
		return map[string]any{
			"provider":  info.Provider,
			"field":     info.Field,
			"url":       info.URL,
			"widgetUrl": info.WidgetURL,
			"siteKey":   info.SiteKey,
		}
	})

	bindConversionHooks(vm, p.config.Guests, p.onInit)
}
