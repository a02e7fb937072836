package anonauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Fixtures shared by the conversion tests (upgrade_, link_, oauth2_,
// delete_): a "shop" on top of PocketBase's test app, with
//
//	carts  owner → users (single relation), items (text)
//	lists  members → users (multiple relation)
//
// MFA of users is switched off (the test app enables it for every method)
// unless a test turns it back on.

const testPassword = "1234567890" // password of PocketBase's test users

// shopApp returns a test app with anonauth registered with cfg and the shop
// collections created.
func shopApp(t testing.TB, cfg anonauth.Config) *tests.TestApp {
	t.Helper()
	app := newTestApp(t, cfg)

	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.MFA.Enabled = false
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}

	carts := core.NewBaseCollection("carts")
	carts.Fields.Add(
		&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1},
		&core.TextField{Name: "items"},
	)
	if err := app.Save(carts); err != nil {
		t.Fatal(err)
	}

	lists := core.NewBaseCollection("lists")
	lists.Fields.Add(
		&core.TextField{Name: "title"},
		&core.RelationField{Name: "members", CollectionId: users.Id, MaxSelect: 10},
	)
	if err := app.Save(lists); err != nil {
		t.Fatal(err)
	}

	return app
}

// shopFactory adapts shopApp for tests.ApiScenario.
func shopFactory(cfg anonauth.Config) func(testing.TB) *tests.TestApp {
	return func(t testing.TB) *tests.TestApp { return shopApp(t, cfg) }
}

// newCart saves a cart owned by owner.
func newCart(t testing.TB, app core.App, owner *core.Record, items string) *core.Record {
	t.Helper()
	col, err := app.FindCollectionByNameOrId("carts")
	if err != nil {
		t.Fatal(err)
	}
	cart := core.NewRecord(col)
	cart.Set("owner", owner.Id)
	cart.Set("items", items)
	if err := app.Save(cart); err != nil {
		t.Fatal(err)
	}
	return cart
}

// newList saves a list with members.
func newList(t testing.TB, app core.App, title string, members ...*core.Record) *core.Record {
	t.Helper()
	col, err := app.FindCollectionByNameOrId("lists")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.Id
	}
	list := core.NewRecord(col)
	list.Set("title", title)
	list.Set("members", ids)
	if err := app.Save(list); err != nil {
		t.Fatal(err)
	}
	return list
}

// reload reads a record again from the database (nil if it is gone).
func reload(t testing.TB, app core.App, record *core.Record) *core.Record {
	t.Helper()
	fresh, err := app.FindRecordById(record.Collection().Id, record.Id)
	if err != nil {
		return nil
	}
	return fresh
}

// mustOwner checks the cart's owner.
func mustOwner(t testing.TB, app core.App, cart *core.Record, want string) {
	t.Helper()
	fresh := reload(t, app, cart)
	if fresh == nil {
		t.Fatalf("cart %s is gone", cart.Id)
	}
	if got := fresh.GetString("owner"); got != want {
		t.Fatalf("cart %s owner = %q, want %q", cart.Id, got, want)
	}
}

// mustGuest checks that guest still exists, still anonymous.
func mustGuest(t testing.TB, app core.App, guest *core.Record) *core.Record {
	t.Helper()
	fresh := reload(t, app, guest)
	if fresh == nil {
		t.Fatalf("guest %s was deleted", guest.Id)
	}
	if !anonauth.IsAnonymous(fresh) {
		t.Fatalf("guest %s is no longer anonymous", guest.Id)
	}
	return fresh
}

// mustGone checks that record was deleted.
func mustGone(t testing.TB, app core.App, record *core.Record) {
	t.Helper()
	if reload(t, app, record) != nil {
		t.Fatalf("record %s still exists", record.Id)
	}
}

// readAuth decodes an auth response ({token, record}).
func readAuth(t testing.TB, res *http.Response) authBody {
	t.Helper()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body authBody
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("not an auth response: %v\n%s", err, raw)
	}
	return body
}

// setCookie returns the pb_auth Set-Cookie line of a response ("" if none).
func setCookie(res *http.Response) string {
	for _, v := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, anonauth.CookieName+"=") {
			return v
		}
	}
	return ""
}

// tokenRecordId returns the id of the record a token authenticates, or ""
// when PocketBase does not accept the token (expired, rotated key).
func tokenRecordId(app core.App, token string) string {
	rec, err := app.FindAuthRecordByToken(token, core.TokenTypeAuth)
	if err != nil {
		return ""
	}
	return rec.Id
}

// serve returns the app's full HTTP handler (PocketBase's router with every
// OnServe registration), for tests that need concurrent requests.
func serve(t testing.TB, app *tests.TestApp) http.Handler {
	t.Helper()
	router, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	se := &core.ServeEvent{App: app, Router: router}
	err = app.OnServe().Trigger(se, func(e *core.ServeEvent) error {
		mux, err := e.Router.BuildMux()
		handler = mux
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

// waitMails waits until the test mailer has sent n messages (mails are sent
// in the background), failing after 5 seconds (a loaded CI machine).
func waitMails(t testing.TB, app *tests.TestApp, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for app.TestMailer.TotalSend() < n {
		if time.Now().After(deadline) {
			t.Fatalf("expected %d sent mails, got %d", n, app.TestMailer.TotalSend())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
