package anonauth_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// newTestApp returns PocketBase's test app (users, clients, nologin, demo*
// collections and a few users) with anonauth registered with cfg.
func newTestApp(t testing.TB, cfg anonauth.Config) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	anonauth.MustRegister(app, cfg)
	return app
}

// appFactory adapts newTestApp for tests.ApiScenario.
func appFactory(cfg anonauth.Config) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp { return newTestApp(t, cfg) }
}

// guestToken creates a guest in collection and returns it with a token.
func guestToken(t testing.TB, app core.App, collection string) (*core.Record, string) {
	t.Helper()
	p := anonauth.FromApp(app)
	col, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.CreateGuest(app, col)
	if err != nil {
		t.Fatal(err)
	}
	token, err := p.NewToken(rec)
	if err != nil {
		t.Fatal(err)
	}
	return rec, token
}

// userToken returns a regular (non-anonymous) test user's auth token.
func userToken(t testing.TB, app core.App, email string) (*core.Record, string) {
	t.Helper()
	rec, err := app.FindAuthRecordByEmail("users", email)
	if err != nil {
		t.Fatal(err)
	}
	token, err := rec.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return rec, token
}
