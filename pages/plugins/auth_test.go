package plugins

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
)

// authPage is a page of a host with the auth and js-sdk plugins (auth
// first, as in the auth starter's +config.js) and stand-ins for the three
// engine globals the auth plugin builds on: upgradeAnonymous (the real
// anonauth upgrade), signInWithPassword and requestOTP (recorded).
type authPage struct {
	*page
	te      *testEnv
	otpFor  []string
	signIns []string
}

func newAuthPage(t *testing.T, te *testEnv, guest bool) *authPage {
	t.Helper()
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-auth"}, pluginItem{name: "pocketpages-plugin-js-sdk"})
	e, rec := te.event(http.MethodPost, "/auth/register", "")
	ap := &authPage{te: te}
	engine := map[string]any{
		"upgradeAnonymous": func(input map[string]any) map[string]any {
			guests := anonauth.FromApp(te.app)
			auth, err := guests.Upgrade(e, anonauth.UpgradeInput{
				Email: input["email"].(string), Password: input["password"].(string), PasswordConfirm: input["passwordConfirm"].(string),
			})
			if err != nil {
				panic(h.vm.NewGoError(err))
			}
			ap.signedIn(auth.Record, auth.Token)
			return map[string]any{"token": auth.Token, "record": auth.Record}
		},
		"signInWithPassword": func(email, password string) map[string]any {
			ap.signIns = append(ap.signIns, email)
			record, err := te.app.FindAuthRecordByEmail("users", email)
			if err != nil || !record.ValidatePassword(password) {
				panic(h.vm.NewGoError(err))
			}
			token, _ := record.NewAuthToken()
			ap.signedIn(record, token)
			return map[string]any{"token": token, "record": record}
		},
		"requestOTP": func(email string) map[string]any {
			ap.otpFor = append(ap.otpFor, email)
			return map[string]any{"otpId": "otp-of-" + email}
		},
	}
	ap.page = h.newPage(e, rec, engine)
	if guest {
		guests := anonauth.FromApp(te.app)
		users, _ := te.app.FindCollectionByNameOrId("users")
		record, err := guests.CreateGuest(te.app, users)
		if err != nil {
			t.Fatal(err)
		}
		token, err := guests.NewToken(record)
		if err != nil {
			t.Fatal(err)
		}
		ap.signedIn(record, token)
	}
	return ap
}

// verificationMails collects the verification mails PocketBase sends (in
// the background, after the request).
func verificationMails(te *testEnv) chan string {
	sent := make(chan string, 10)
	te.app.OnMailerRecordVerificationSend().BindFunc(func(e *core.MailerRecordEvent) error {
		sent <- e.Record.Email()
		return e.Next()
	})
	return sent
}

func nextMail(t *testing.T, sent chan string) string {
	t.Helper()
	select {
	case email := <-sent:
		return email
	case <-time.After(30 * time.Second): // a hung-test guard, not a timing assumption
		t.Fatal("no verification mail")
		return ""
	}
}

func TestCreateUserForAVisitor(t *testing.T) {
	te := newTestEnv(t, notesSetup(t))
	sent := verificationMails(te)
	p := newAuthPage(t, te, false)

	got := p.mustRun(`
	  const user = createUser('new@example.com', 'password-123')
	  let dup, empty
	  try { createUser('new@example.com', 'password-123') } catch (e) { dup = e.status + ' ' + JSON.stringify(e.response.data.email) }
	  try { createUser(' ', 'x') } catch (e) { empty = e.message }
	  // the REST create response, as the SDK returns it: no email for a
	  // visitor (emailVisibility is off)
	  return JSON.stringify({ id: typeof user.id, email: user.email, verified: user.verified, dup, empty })
	`).String()
	want := `{"id":"string","verified":false,"dup":"400 {\"code\":\"validation_not_unique\",\"message\":\"Value must be unique.\"}","empty":"Email is required"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if email := nextMail(t, sent); email != "new@example.com" {
		t.Fatalf("verification mail to %s", email)
	}
	record, err := te.app.FindAuthRecordByEmail("users", "new@example.com")
	if err != nil || !record.ValidatePassword("password-123") {
		t.Fatal("the account was not created with its password")
	}

	// registerWithPassword: createUser then signInWithPassword.
	res := p.mustRun(`return registerWithPassword('reg@example.com', 'password-123', { sendVerificationEmail: false }).record.id === request.auth.id`).String()
	if res != "true" || len(p.signIns) != 1 || p.signIns[0] != "reg@example.com" {
		t.Fatalf("registerWithPassword: %s, sign-ins %v", res, p.signIns)
	}
}

func TestCreateUserUpgradesTheGuestInPlace(t *testing.T) {
	te := newTestEnv(t, notesSetup(t))
	p := newAuthPage(t, te, true)
	guestID := p.e.Auth.Id

	got := p.mustRun(`
	  const authData = registerWithPassword('guest@example.com', 'password-123')
	  return JSON.stringify({ id: authData.record.id, requestAuth: request.auth.id, token: authData.token === request.authToken })
	`).String()
	if got != `{"id":"`+guestID+`","requestAuth":"`+guestID+`","token":true}` {
		t.Fatalf("got %s (guest %s)", got, guestID)
	}
	record, err := te.app.FindRecordById("users", guestID)
	if err != nil {
		t.Fatal(err)
	}
	if anonauth.IsAnonymous(record) || record.Email() != "guest@example.com" || !record.ValidatePassword("password-123") {
		t.Fatalf("the guest was not upgraded: anonymous=%v email=%s", anonauth.IsAnonymous(record), record.Email())
	}
	if len(p.signIns) != 0 {
		t.Fatalf("an upgraded guest is already signed in; signInWithPassword was called for %v", p.signIns)
	}
	if n, _ := te.app.CountRecords("users"); n != 4 { // the test data's 3 + the (former) guest
		t.Fatalf("users: %d, a second account was created", n)
	}

	// createPaswordlessUser (and its correctly spelled alias) for a guest.
	p2 := newAuthPage(t, te, true)
	got = p2.mustRun(`
	  const same = createPaswordlessUser === createPasswordlessUser
	  const { password, user } = createPasswordlessUser('otp@example.com', { sendVerificationEmail: false })
	  return same + ' ' + /^[1-9]{40}$/.test(password) + ' ' + (user.id === request.auth.id) + ' ' + user.email
	`).String()
	if got != "true true true otp@example.com" {
		t.Fatalf("got %s", got)
	}
}

func TestCreateAnonymousUserAndVerification(t *testing.T) {
	te := newTestEnv(t, notesSetup(t))
	p := newAuthPage(t, te, false)

	got := p.mustRun(`
	  const { email, user, token } = createAnonymousUser()
	  return JSON.stringify({ email, id: user.id, hasToken: typeof token === 'string' && token.length > 0, signedIn: request.auth !== null })
	`).String()
	id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(got)
	if id == nil || !strings.Contains(got, `"hasToken":true`) || !strings.Contains(got, `"signedIn":false`) {
		t.Fatalf("got %s", got)
	}
	guest, err := te.app.FindRecordById("users", id[1])
	if err != nil || !anonauth.IsAnonymous(guest) || !strings.Contains(got, `"email":"`+guest.Email()+`"`) {
		t.Fatalf("no guest record behind %s", got)
	}

	// requestVerification / confirmVerification with a real token.
	sent := verificationMails(te)
	user, _ := te.user(t, "test@example.com")
	token, err := user.NewVerificationToken()
	if err != nil {
		t.Fatal(err)
	}
	p.api.Set("token", token)
	p.mustRun(`requestVerification('test@example.com'); confirmVerification(token)`)
	if email := nextMail(t, sent); email != "test@example.com" {
		t.Fatalf("mail to %s", email)
	}
	if fresh, _ := te.app.FindRecordById("users", user.Id); !fresh.Verified() {
		t.Fatal("confirmVerification did not verify")
	}
	if got := p.mustRun(`try { confirmVerification('bad') } catch (e) { return e.status + ' ' + e.message }`).String(); !strings.HasPrefix(got, "400 ") {
		t.Fatalf("bad token: %s", got)
	}
}

func TestRequestOTPSignsUpNewEmails(t *testing.T) {
	te := newTestEnv(t, notesSetup(t))
	p := newAuthPage(t, te, true) // a guest asks for a code
	guestID := p.e.Auth.Id

	if got := p.mustRun(`return requestOTP('fresh@example.com').otpId`).String(); got != "otp-of-fresh@example.com" {
		t.Fatalf("got %s", got)
	}
	account, err := te.app.FindAuthRecordByEmail("users", "fresh@example.com")
	if err != nil {
		t.Fatal("no account created for the new email")
	}
	if account.Id == guestID || anonauth.IsAnonymous(account) {
		t.Fatal("the guest must not be upgraded before the code proves the email")
	}
	// An existing email: no error, no second account.
	p.mustRun(`requestOTP('test@example.com')`)
	if len(p.otpFor) != 2 {
		t.Fatalf("engine requestOTP calls: %v", p.otpFor)
	}
}

func TestAuthNeedsJSSDK(t *testing.T) {
	te := newTestEnv(t, nil)
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-auth"})
	e, rec := te.event(http.MethodGet, "/", "")
	p := h.newPage(e, rec, nil)
	got, err := p.run(`createUser('a@example.com', 'password-123')`)
	if err == nil || !strings.Contains(err.Error(), "needs pocketpages-plugin-js-sdk") {
		t.Fatalf("got %v %v", got, err)
	}
}
