package jsvm

import (
	"testing"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// A Go panic inside a binding becomes a catchable JS error (status 500),
// and a non-event first argument a 400, never a crash.
func TestGlobalsRecoverPanics(t *testing.T) {
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()

	anonauth.MustRegister(app, anonauth.Config{})
	p := &Plugin{app: app}
	vm := goja.New()
	p.bindGlobals(vm)
	// an event without App/Request: the Go core would dereference nil
	vm.Set("brokenEvent", &core.RequestEvent{})

	v, err := vm.RunString(`
		const out = []
		try { signInAnonymously(brokenEvent) } catch (e) { out.push(e.status + " " + e.message) }
		try { signInAnonymously() } catch (e) { out.push(e.status + " " + e.message) }
		try { signOut(42) } catch (e) { out.push(e.status + " " + (e instanceof Error)) }
		out.join("|")
	`)
	if err != nil {
		t.Fatalf("the script must not fail: %v", err)
	}
	got := v.String()
	want := "500 Internal error in signInAnonymously().|400 The first argument must be the request event (e) of the route or hook.|400 true"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
