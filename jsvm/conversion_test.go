package jsvm

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// conversionFixture is a test app with anonauth, a carts collection (owner →
// users), a guest owning a cart, and a goja runtime with PocketBase's binds
// plus the conversion globals.
type conversionFixture struct {
	app     *tests.TestApp
	guests  *anonauth.Plugin
	vm      *goja.Runtime
	guest   *core.Record
	account *core.Record
	cart    *core.Record
}

func newConversionFixture(t *testing.T, cfg anonauth.Config) *conversionFixture {
	t.Helper()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)

	f := &conversionFixture{app: app, guests: anonauth.MustRegister(app, cfg)}

	users, _ := app.FindCollectionByNameOrId("users")
	carts := core.NewBaseCollection("carts")
	carts.Fields.Add(&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1}, &core.TextField{Name: "items"})
	if err := app.Save(carts); err != nil {
		t.Fatal(err)
	}

	f.guest = f.newGuest(t)
	f.account, err = app.FindAuthRecordByEmail("users", "test@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f.cart = core.NewRecord(carts)
	f.cart.Set("owner", f.guest.Id)
	f.cart.Set("items", "socks")
	if err := app.Save(f.cart); err != nil {
		t.Fatal(err)
	}

	f.vm = goja.New()
	pbjsvm.BindCore(f.vm)
	pbjsvm.BindDbx(f.vm)
	pbjsvm.BindApis(f.vm)
	f.vm.Set("$app", app)
	bindConversionHooks(f.vm, nil, nil) // nil: found through $app, as when anonauth registers after jsvm

	return f
}

func (f *conversionFixture) newGuest(t *testing.T) *core.Record {
	t.Helper()
	users, _ := f.app.FindCollectionByNameOrId("users")
	g, err := f.guests.CreateGuest(f.app, users)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// event returns a request event authenticated as auth, exposed to JS as e.
func (f *conversionFixture) event(auth *core.Record) (*core.RequestEvent, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{App: f.app}
	e.Request = httptest.NewRequest(http.MethodPost, "/", nil)
	e.Response = rec
	e.Auth = auth
	f.vm.Set("e", e)
	return e, rec
}

func (f *conversionFixture) run(t *testing.T, script string) goja.Value {
	t.Helper()
	v, err := f.vm.RunString(script)
	if err != nil {
		t.Fatalf("script failed: %v", err)
	}
	return v
}

func TestConversionUpgradeAnonymousJS(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})
	e, rec := f.event(f.guest)

	got := f.run(t, `
		const r = upgradeAnonymous(e, {email: "js@example.org", password: "s3cret-pass", passwordConfirm: "s3cret-pass", name: "Js"});
		[r.token, r.record.id, r.record.get("isAnonymous"), r.record.email(), e.auth.id].join("|")
	`).String()
	parts := strings.Split(got, "|")
	if parts[1] != f.guest.Id || parts[2] != "false" || parts[3] != "js@example.org" || parts[4] != f.guest.Id {
		t.Fatalf("unexpected result %q", got)
	}
	if id := tokenOwner(f.app, parts[0]); id != f.guest.Id {
		t.Fatal("the returned token does not work")
	}
	// the cookie was written to the real response, through the event pointer JS held
	if c := rec.Result().Header.Get("Set-Cookie"); !strings.HasPrefix(c, anonauth.CookieName+"=") {
		t.Fatalf("no pb_auth cookie on the response: %q", c)
	}
	if e.Auth == nil || anonauth.IsAnonymous(e.Auth) {
		t.Fatal("e.Auth is not the upgraded record")
	}
}

func TestConversionUpgradeAnonymousJSErrors(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})

	cases := []struct {
		name, auth, args, status, contains string
	}{
		{"invalid email and mismatch", "guest", `{email: "nope", password: "s3cret-pass", passwordConfirm: "other-pass"}`, "422", `"passwordConfirm"`},
		{"email in use", "guest", `{email: "test@example.com", password: "s3cret-pass", passwordConfirm: "s3cret-pass"}`, "409", `"email"`},
		{"not anonymous", "user", `{email: "x@example.org", password: "s3cret-pass", passwordConfirm: "s3cret-pass"}`, "400", "not anonymous"},
		{"no auth", "", `{email: "x@example.org", password: "s3cret-pass", passwordConfirm: "s3cret-pass"}`, "401", "anonymous session"},
		{"bad argument", "guest", `"just a string"`, "400", "must be an object"},
		{"bad field type", "guest", `{email: 42}`, "400", "email must be a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var auth *core.Record
			switch c.auth {
			case "guest":
				auth = f.newGuest(t)
			case "user":
				auth = f.account
			}
			f.event(auth)
			got := f.run(t, `(() => {
				try { upgradeAnonymous(e, `+c.args+`); return "no error" }
				catch (err) { return err.status + "|" + err.message + "|" + JSON.stringify(err.data) }
			})()`).String()
			if !strings.HasPrefix(got, c.status+"|") || !strings.Contains(got, c.contains) {
				t.Fatalf("got %q, want status %s containing %q", got, c.status, c.contains)
			}
		})
	}
}

func TestConversionDeleteAnonymousJS(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})

	_, rec := f.event(f.guest)
	f.run(t, `deleteAnonymous(e)`)
	if _, err := f.app.FindRecordById("users", f.guest.Id); err == nil {
		t.Fatal("guest not deleted")
	}
	if c := rec.Result().Header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
		t.Fatalf("cookie not cleared: %q", c)
	}

	f.event(f.account)
	got := f.run(t, `(() => { try { deleteAnonymous(e) } catch (err) { return err.status + " " + err.message } })()`).String()
	if !strings.HasPrefix(got, "400 ") {
		t.Fatalf("got %q", got)
	}

	disabled := newConversionFixture(t, anonauth.Config{DisableDelete: true})
	disabled.event(disabled.guest)
	got = disabled.run(t, `(() => { try { deleteAnonymous(e) } catch (err) { return err.status } })()`).String()
	if got != "404" {
		t.Fatalf("DisableDelete: got %q, want 404", got)
	}
}

func TestConversionOnAnonymousLinkJS(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})

	// A handler registered from JS, compiled from its source like pb_hooks
	// handlers: it uses the transactional $app, sees both records, and lets
	// the default action move the rest.
	f.run(t, `onAnonymousLink((e) => {
		const cart = $app.findFirstRecordByData("carts", "owner", e.anonymous.id);
		cart.set("items", cart.get("items") + " (merged into " + e.account.email() + ")");
		$app.save(cart);
		e.next();
		if (e.transferred !== 1) throw new Error("expected 1 transferred record, got " + e.transferred);
	})`)

	if err := f.guests.Link(f.app, f.guest, f.account); err != nil {
		t.Fatal(err)
	}
	cart, _ := f.app.FindRecordById("carts", f.cart.Id)
	if cart.GetString("owner") != f.account.Id || cart.GetString("items") != "socks (merged into test@example.com)" {
		t.Fatalf("cart not merged by the JS handler: %v", cart)
	}
	if _, err := f.app.FindRecordById("users", f.guest.Id); err == nil {
		t.Fatal("guest not deleted")
	}
}

func TestConversionOnAnonymousLinkJSFailure(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})

	// Fails after the default action ran: everything rolls back, and the
	// thrown ApiError keeps its status.
	f.run(t, `onAnonymousLink((e) => {
		e.next();
		throw new BadRequestError("js says no");
	})`)

	err := f.guests.Link(f.app, f.guest, f.account)
	var apiErr *router.ApiError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(strings.ToLower(apiErr.Message), "js says no") {
		t.Fatalf("expected the thrown 400, got %v", err)
	}
	cart, _ := f.app.FindRecordById("carts", f.cart.Id)
	if cart.GetString("owner") != f.guest.Id {
		t.Fatal("cart owner changed despite the failure")
	}
	if g, err := f.app.FindRecordById("users", f.guest.Id); err != nil || !anonauth.IsAnonymous(g) {
		t.Fatal("guest lost despite the failure")
	}

	// A plain JS error fails the link too (message kept).
	g := newConversionFixture(t, anonauth.Config{})
	g.run(t, `onAnonymousLink((e) => { null.boom })`)
	if err := g.guests.Link(g.app, g.guest, g.account); err == nil || !strings.Contains(err.Error(), "TypeError") {
		t.Fatalf("expected the TypeError, got %v", err)
	}

	// A non-function is refused at registration.
	got := g.run(t, `(() => { try { onAnonymousLink("nope") } catch (err) { return err.status } })()`).String()
	if got != "400" {
		t.Fatalf("got %q", got)
	}
}

// Issue 18 item 3(c) from JS: a handler filters a merge (e.skipRelations)
// or refuses it without failing (no e.next()).
func TestConversionOnAnonymousLinkJSRefuseAndFilter(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})
	f.run(t, `onAnonymousLink((e) => {
		e.skipRelations = ["carts.owner"];
		e.deleteAnonymous = false;
		e.next();
	})`)
	if err := f.guests.Link(f.app, f.guest, f.account); err != nil {
		t.Fatal(err)
	}
	cart, _ := f.app.FindRecordById("carts", f.cart.Id)
	if cart.GetString("owner") != f.guest.Id {
		t.Fatal("a skipped relation was moved")
	}

	g := newConversionFixture(t, anonauth.Config{})
	g.run(t, `onAnonymousLink((e) => {
		if (e.requestEvent === null || e.requestEvent === undefined) return; // planted-cookie policy: no e.next()
		e.next();
	})`)
	if err := g.guests.Link(g.app, g.guest, g.account); err != nil {
		t.Fatal(err)
	}
	cart, _ = g.app.FindRecordById("carts", g.cart.Id)
	if cart.GetString("owner") != g.guest.Id {
		t.Fatal("a refused merge moved the cart")
	}
	if guest, err := g.app.FindRecordById("users", g.guest.Id); err != nil || !anonauth.IsAnonymous(guest) {
		t.Fatal("a refused merge deleted the guest")
	}
}

func tokenOwner(app core.App, token string) string {
	rec, err := app.FindAuthRecordByToken(token, core.TokenTypeAuth)
	if err != nil {
		return ""
	}
	return rec.Id
}

// BenchmarkLinkVM measures building one VM for onAnonymousLink handlers
// (paid once per pooled VM, or per merge when more merges than
// linkVMPoolSize run at once).
func BenchmarkLinkVM(b *testing.B) {
	vm := goja.New()
	vm.Set("__hooks", "/tmp")
	r := newLinkRunner(nil, vm, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		r.factory()
	}
}

// TestConversionOnAnonymousLinkFromPbHooks loads a real pb_hooks file with
// PocketBase's jsvm plugin (its loader VM, its OnInit): the handler
// registered there runs for a merge, in our link VMs.
func TestConversionOnAnonymousLinkFromPbHooks(t *testing.T) {
	f := newConversionFixture(t, anonauth.Config{})

	hooksDir := t.TempDir()
	err := os.WriteFile(filepath.Join(hooksDir, "link.pb.js"), []byte(`
		onAnonymousLink((e) => {
			const cart = e.app.findFirstRecordByData("carts", "owner", e.anonymous.id);
			cart.set("items", "moved by pb_hooks, hooks dir " + (__hooks ? "set" : "missing"));
			$app.save(cart);
			e.next();
		});
	`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	pbjsvm.MustRegister(f.app, pbjsvm.Config{
		HooksDir:      hooksDir,
		HooksPoolSize: 1,
		TypesDir:      t.TempDir(),
		OnInit:        func(vm *goja.Runtime) { bindConversionHooks(vm, nil, nil) },
	})

	if err := f.guests.Link(f.app, f.guest, f.account); err != nil {
		t.Fatal(err)
	}
	cart, _ := f.app.FindRecordById("carts", f.cart.Id)
	if cart.GetString("owner") != f.account.Id || cart.GetString("items") != "moved by pb_hooks, hooks dir set" {
		t.Fatalf("the pb_hooks handler did not run as expected: %v", cart)
	}
}
