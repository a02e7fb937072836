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

// anonymousChallenge() tells scripts what a new guest must solve: null when
// bot protection is off, the provider, field and URLs when it is on.
func TestAnonymousChallengeGlobal(t *testing.T) {
	for _, c := range []struct {
		cfg  anonauth.ChallengeConfig
		want string
	}{
		{anonauth.ChallengeConfig{}, `null|null`},
		{
			anonauth.ChallengeConfig{Provider: anonauth.ChallengePow},
			`{"provider":"pow","field":"altcha","url":"/api/collections/users/anonymous-challenge","widgetUrl":"/api/anonymous-challenge/altcha.js","siteKey":""}|` +
				`{"provider":"pow","field":"altcha","url":"/api/collections/nologin/anonymous-challenge","widgetUrl":"/api/anonymous-challenge/altcha.js","siteKey":""}`,
		},
		{
			anonauth.ChallengeConfig{Provider: anonauth.ChallengeTurnstile, Secret: "s", SiteKey: "site"},
			`{"provider":"turnstile","field":"cf-turnstile-response","url":"","widgetUrl":"","siteKey":"site"}|` +
				`{"provider":"turnstile","field":"cf-turnstile-response","url":"","widgetUrl":"","siteKey":"site"}`,
		},
	} {
		app, err := tests.NewTestApp()
		if err != nil {
			t.Fatal(err)
		}
		guests := anonauth.MustRegister(app, anonauth.Config{Collections: []string{"users", "nologin"}, Challenge: c.cfg})
		p := &Plugin{app: app, config: Config{Guests: guests}}
		vm := goja.New()
		p.bindGlobals(vm)
		v, err := vm.RunString(`const f = (x) => JSON.stringify(x, ["provider", "field", "url", "widgetUrl", "siteKey"]); f(anonymousChallenge()) + "|" + f(anonymousChallenge("nologin"))`)
		app.Cleanup()
		if err != nil {
			t.Fatal(err)
		}
		if got := v.String(); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.cfg.Provider, got, c.want)
		}
	}
}
