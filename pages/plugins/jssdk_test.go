package plugins

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
)

// notesSetup adds a "notes" collection whose rules only let a user see and
// write their own notes, and notes for two users; MFA is off on users (the
// test data turns it on) so a password sign-in is one step.
func notesSetup(t testing.TB) func(app *tests.TestApp) {
	return func(app *tests.TestApp) {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			t.Fatal(err)
		}
		users.MFA.Enabled = false
		if err := app.Save(users); err != nil {
			t.Fatal(err)
		}

		notes := core.NewBaseCollection("notes")
		notes.Fields.Add(&core.TextField{Name: "title"})
		notes.Fields.Add(&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1})
		notes.ListRule = types.Pointer("owner = @request.auth.id")
		notes.ViewRule = types.Pointer("owner = @request.auth.id")
		notes.CreateRule = types.Pointer("@request.auth.id != '' && owner = @request.auth.id")
		notes.UpdateRule = types.Pointer("owner = @request.auth.id")
		notes.DeleteRule = types.Pointer("owner = @request.auth.id")
		if err := app.Save(notes); err != nil {
			t.Fatal(err)
		}
		for email, titles := range map[string][]string{
			"test@example.com":  {"apple", "banana", "cherry"},
			"test2@example.com": {"avocado"},
		} {
			owner, err := app.FindAuthRecordByEmail("users", email)
			if err != nil {
				t.Fatal(err)
			}
			for _, title := range titles {
				r := core.NewRecord(notes)
				r.Set("title", title)
				r.Set("owner", owner.Id)
				if err := app.Save(r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// jsonOf runs code on the page and returns its result as JSON.
func jsonOf(t testing.TB, p *page, code string) string {
	t.Helper()
	v := p.mustRun(code)
	return v.String()
}

func TestPBActsAsTheRequestsUserAndRulesApply(t *testing.T) {
	te := newTestEnv(t, notesSetup(t))
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-js-sdk"})
	user, token := te.user(t, "test@example.com")
	other, otherToken := te.user(t, "test2@example.com")

	e, rec := te.event(http.MethodGet, "/notes", "")
	p := h.newPage(e, rec, nil)
	p.signedIn(user, token)
	p.api.Set("ownerId", user.Id)
	p.api.Set("otherId", other.Id)

	// The SDK's query options, encoded as the SDK encodes them.
	got := jsonOf(t, p, `
	  const list = pb().collection('notes').getList(1, 2, { filter: 'title ~ "a"', sort: '-title', fields: 'title', skipTotal: true })
	  const full = pb().collection('notes').getFullList({ sort: 'title', batch: 2 })
	  const first = pb().collection('notes').getFirstListItem(pb().filter('title = {:t}', { t: 'cherry' }))
	  const expanded = pb().collection('notes').getFirstListItem('title = "apple"', { expand: 'owner', fields: 'title,expand.owner.email' })
	  return JSON.stringify({ list, full: full.map((n) => n.title), first: first.title, expanded })
	`)
	want := `{"list":{"items":[{"title":"banana"},{"title":"apple"}],"page":1,"perPage":2,"totalItems":-1,"totalPages":-1},` +
		`"full":["apple","banana","cherry"],"first":"cherry","expanded":{"expand":{"owner":{"email":"test@example.com"}},"title":"apple"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// Writes as the user, then the same denied calls as over REST: status,
	// message and body equal, and catchable.
	var otherNote *core.Record
	if otherNote, _ = te.app.FindFirstRecordByData("notes", "title", "avocado"); otherNote == nil {
		t.Fatal("no seeded note")
	}
	p.api.Set("otherNoteId", otherNote.Id)
	got = jsonOf(t, p, `
	  const created = pb().collection('notes').create({ title: 'date', owner: ownerId })
	  const updated = pb().collection('notes').update(created.id, { title: 'dates' })
	  const deleted = pb().collection('notes').delete(created.id)
	  const denied = (fn) => { try { fn(); return 'not denied' } catch (e) {
	    return { status: e.status, message: e.message, response: e.response, isError: e instanceof Error, name: e.name } } }
	  return JSON.stringify({
	    updated: updated.title, deleted,
	    viewOther: denied(() => pb().collection('notes').getOne(otherNoteId)),
	    createForOther: denied(() => pb().collection('notes').create({ title: 'x', owner: otherId })),
	    anonymousCreate: denied(() => pb({ auth: null }).collection('notes').create({ title: 'x', owner: ownerId })),
	    listUsers: denied(() => pb().collection('users').getList()),
	    noMatch: denied(() => pb().collection('notes').getFirstListItem('title = "nope"')),
	  })
	`)
	var out map[string]json.RawMessage
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		t.Fatal(err)
	}
	if string(out["updated"]) != `"dates"` || string(out["deleted"]) != "true" {
		t.Fatalf("writes: %s", got)
	}
	for name, call := range map[string]struct{ method, target, body, token string }{
		"viewOther":       {http.MethodGet, "/api/collections/notes/records/" + otherNote.Id, "", token},
		"createForOther":  {http.MethodPost, "/api/collections/notes/records", `{"title":"x","owner":"` + other.Id + `"}`, token},
		"anonymousCreate": {http.MethodPost, "/api/collections/notes/records", `{"title":"x","owner":"` + user.Id + `"}`, ""},
		"listUsers":       {http.MethodGet, "/api/collections/users/records?page=1&perPage=30", "", token},
	} {
		res := te.rest(call.method, call.target, call.body, call.token)
		if res.Code < 400 || res.Code >= 500 {
			t.Fatalf("%s: REST gave %d, the test needs a denied call", name, res.Code)
		}
		var restBody map[string]any
		_ = json.Unmarshal(res.Body.Bytes(), &restBody)
		var denied struct {
			Status   int            `json:"status"`
			Message  string         `json:"message"`
			Response map[string]any `json:"response"`
			IsError  bool           `json:"isError"`
			Name     string         `json:"name"`
		}
		if err := json.Unmarshal(out[name], &denied); err != nil {
			t.Fatalf("%s: %s", name, out[name])
		}
		restJSON, _ := json.Marshal(restBody)
		pbJSON, _ := json.Marshal(denied.Response)
		if denied.Status != res.Code || denied.Message != restBody["message"] || string(pbJSON) != string(restJSON) || !denied.IsError {
			t.Fatalf("%s: pb() gave %s, REST gave %d %s", name, out[name], res.Code, res.Body)
		}
	}
	if !strings.Contains(string(out["noMatch"]), `"status":404`) {
		t.Fatalf("getFirstListItem without a match: %s", out["noMatch"])
	}

	// The other user's page sees only their note: the client follows the
	// request's session.
	e2, rec2 := te.event(http.MethodGet, "/notes", "")
	p2 := h.newPage(e2, rec2, nil)
	p2.signedIn(other, otherToken)
	if got := jsonOf(t, p2, `return JSON.stringify(pb().collection('notes').getFullList().map((n) => n.title))`); got != `["avocado"]` {
		t.Fatalf("other user's notes: %s", got)
	}
}

func TestPBAuthFlows(t *testing.T) {
	te := newTestEnv(t, notesSetup(t))
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-js-sdk", extra: map[string]any{"host": "https://example.com"}})
	user, _ := te.user(t, "test@example.com")

	e, rec := te.event(http.MethodGet, "/", "")
	p := h.newPage(e, rec, nil)
	// A password reset first: it rotates the user's token key, which
	// invalidates tokens made before it.
	p.api.Set("resetToken", mustToken(t, user.NewPasswordResetToken))
	if got := jsonOf(t, p, `return String(pb({ auth: null }).collection('users').confirmPasswordReset(resetToken, 'new-password-1', 'new-password-1'))`); got != "true" {
		t.Fatalf("confirmPasswordReset: %s", got)
	}
	user, _ = te.user(t, "test@example.com")
	p.api.Set("verificationToken", mustToken(t, user.NewVerificationToken))

	otp := core.NewOTP(te.app)
	otp.SetCollectionRef(user.Collection().Id)
	otp.SetRecordRef(user.Id)
	otp.SetPassword("123456")
	if err := te.app.Save(otp); err != nil {
		t.Fatal(err)
	}
	p.api.Set("otpId", otp.Id)

	got := jsonOf(t, p, `
	  const client = pb()
	  const before = client.authStore.isValid
	  const methods = client.collection('users').listAuthMethods()
	  let wrong
	  try { client.collection('users').authWithPassword('test@example.com', 'wrong') } catch (e) { wrong = e.status + ' ' + e.message }
	  const auth = client.collection('users').authWithPassword('test@example.com', 'new-password-1')
	  const afterAuth = client.authStore.isValid && client.authStore.record.email
	  const me = client.collection('users').getOne(auth.record.id).email
	  const refreshed = client.collection('users').authRefresh().record.email
	  const otpAuth = pb({ auth: null }).collection('users').authWithOTP(otpId, '123456').record.email
	  const otpRequest = typeof pb({ auth: null }).collection('users').requestOTP('test@example.com').otpId
	  const mails = [
	    client.collection('users').requestVerification('test@example.com'),
	    client.collection('users').requestPasswordReset('test@example.com'),
	    client.collection('users').requestEmailChange('new@example.com'),
	  ]
	  const verified = client.collection('users').confirmVerification(verificationToken) && client.authStore.record.verified
	  const health = pb().send('/api/health', { method: 'GET' }).code
	  const fileURL = pb().files.getURL({ id: 'r1', collectionId: 'c1' }, 'a b.png', { thumb: '100x100', download: false })
	  client.authStore.clear()
	  return JSON.stringify({ before, password: methods.password.enabled, otp: methods.otp.enabled, wrong, afterAuth, me, refreshed,
	    otpAuth, otpRequest, mails, verified, health, fileURL, cleared: client.authStore.isValid })
	`)
	want := `{"before":false,"password":true,"otp":true,"wrong":"400 Failed to authenticate.","afterAuth":"test@example.com",` +
		`"me":"test@example.com","refreshed":"test@example.com","otpAuth":"test@example.com","otpRequest":"string",` +
		`"mails":[true,true,true],"verified":true,"health":200,` +
		`"fileURL":"https://example.com/api/files/c1/r1/a%20b.png?thumb=100x100","cleared":false}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	fresh, err := te.app.FindRecordById("users", user.Id)
	if err != nil {
		t.Fatal(err)
	}
	if !fresh.Verified() || !fresh.ValidatePassword("new-password-1") {
		t.Fatal("confirmVerification / confirmPasswordReset did not reach the record")
	}
}

func TestPBBeforeTheServerStarts(t *testing.T) {
	te := newTestEnv(t, nil)
	env := te.Env
	env.Handler = func() http.Handler { return nil }
	h := newTestHost(t, env, pluginItem{name: "pocketpages-plugin-js-sdk"})
	e, rec := te.event(http.MethodGet, "/", "")
	p := h.newPage(e, rec, nil)
	got := jsonOf(t, p, `try { pb().collection('users').listAuthMethods() } catch (e) { return e.status + ' ' + e.message }`)
	if got != "0 "+errRouterNotReady.Error() {
		t.Fatalf("got %q", got)
	}
}

func mustToken(t testing.TB, fn func() (string, error)) string {
	t.Helper()
	token, err := fn()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// The in-process request carries the visitor's address and the client's
// token, never the page request's cookies.
func TestPBForwardsTheVisitorNotItsCookies(t *testing.T) {
	te := newTestEnv(t, func(app *tests.TestApp) {
		app.OnServe().BindFunc(func(se *core.ServeEvent) error {
			se.Router.GET("/echo", func(e *core.RequestEvent) error {
				auth := ""
				if e.Auth != nil {
					auth = e.Auth.Email()
				}
				return e.JSON(http.StatusOK, map[string]any{
					"ip": e.RealIP(), "cookie": e.Request.Header.Get("Cookie"), "auth": auth, "ua": e.Request.UserAgent(),
				})
			})
			return se.Next()
		})
	})
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-js-sdk"})
	user, token := te.user(t, "test@example.com")
	e, rec := te.event(http.MethodGet, "/", "", "Cookie: pb_auth=secret", "User-Agent: test-browser")
	e.Request.RemoteAddr = "203.0.113.9:4321"
	p := h.newPage(e, rec, nil)
	p.signedIn(user, token)

	got := jsonOf(t, p, `return JSON.stringify([pb().send('/echo', {}), pb({ auth: null }).send('/echo', {}).auth])`)
	if got != `[{"auth":"test@example.com","cookie":"","ip":"203.0.113.9","ua":"test-browser"},""]` {
		t.Fatalf("got %s", got)
	}
}

func TestJSONValueIsJSONParse(t *testing.T) {
	vm := goja.New()
	for _, in := range []string{
		`{"b":1,"a":[1,2.5,-3e2,"x\u00e9\ud83d\ude00",true,false,null,{}],"c":{"d":[]}}`,
		`[]`, `"s"`, `12345678901234567`, `0`,
	} {
		v, err := jsonValue(vm, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		vm.Set("v", v)
		vm.Set("src", in)
		same, err := vm.RunString(`JSON.stringify(v) === JSON.stringify(JSON.parse(src))`)
		if err != nil || !same.ToBoolean() {
			t.Fatalf("%s: differs from JSON.parse (%v)", in, err)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":1}x`, `{"a":1,"a":2}`} {
		if _, err := jsonValue(vm, []byte(bad)); err == nil {
			t.Fatalf("%q: no error", bad)
		}
	}
}
