package anonauth_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

const (
	requestOTPURL = "/api/collections/users/upgrade-anonymous/request-otp"
	confirmOTPURL = "/api/collections/users/upgrade-anonymous/confirm-otp"
)

// otpHarness serves an app whose users collection has OTP on (MFA off),
// an OTP mail template the test can read, and counts auth responses.
type otpHarness struct {
	t            testing.TB
	app          *tests.TestApp
	handler      http.Handler
	authRequests int
}

func newOTPHarness(t testing.TB) *otpHarness {
	t.Helper()
	app := newTestApp(t, anonauth.Config{})
	t.Cleanup(app.Cleanup)
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.OTP.Enabled = true
	users.MFA.Enabled = false
	users.OTP.EmailTemplate.Subject = "Your code"
	users.OTP.EmailTemplate.Body = "<p>For {RECORD:email}: code={OTP} id={OTP_ID}</p>"
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
	h := &otpHarness{t: t, app: app}
	app.OnRecordAuthRequest().BindFunc(func(e *core.RecordAuthRequestEvent) error {
		h.authRequests++
		return e.Next()
	})
	h.handler = serve(t, app)
	return h
}

// post sends a JSON body with the cookie (a full "pb_auth=..." pair or "").
func (h *otpHarness) post(url, cookie string, body any) *http.Response {
	h.t.Helper()
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec.Result()
}

// guest signs a guest in and returns it with its cookie pair.
func (h *otpHarness) guest() (*core.Record, string) {
	h.t.Helper()
	res := h.post(signInURL, "", nil)
	if res.StatusCode != 200 {
		h.t.Fatalf("sign-in: %d", res.StatusCode)
	}
	id := decodeAuth(h.t, res).Record["id"].(string)
	record, err := h.app.FindRecordById("users", id)
	if err != nil {
		h.t.Fatal(err)
	}
	return record, strings.SplitN(setCookie(res), ";", 2)[0]
}

var codeInMail = regexp.MustCompile(`code=(\d+) id=(\w+)`)

// lastCode returns the code and OTP id of the last mail, checking its
// recipient.
func (h *otpHarness) lastCode(to string) (code, otpId string) {
	h.t.Helper()
	msg := h.app.TestMailer.LastMessage()
	if len(msg.To) != 1 || msg.To[0].Address != to {
		h.t.Fatalf("mail to %v, want %s", msg.To, to)
	}
	if msg.Subject != "Your code" || !strings.Contains(msg.HTML, "For "+to+":") {
		h.t.Fatalf("not the collection's OTP template: %q %q", msg.Subject, msg.HTML)
	}
	m := codeInMail.FindStringSubmatch(msg.HTML)
	if m == nil {
		h.t.Fatalf("no code in %q", msg.HTML)
	}
	return m[1], m[2]
}

func otpIdOf(t testing.TB, res *http.Response) string {
	t.Helper()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 1 || body["otpId"] == "" {
		t.Fatalf("want exactly {otpId}, got %v", body)
	}
	return body["otpId"].(string)
}

func countEvents(t testing.TB, app core.App, event, reason string) int {
	t.Helper()
	n, err := app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": event, "reason": reason})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestUpgradeByCodeNewAddress: a guest claims a new address with a mailed
// code and becomes a verified full account in place.
func TestUpgradeByCodeNewAddress(t *testing.T) {
	t.Parallel()
	h := newOTPHarness(t)
	guest, cookie := h.guest()
	guestToken := strings.TrimPrefix(cookie, anonauth.CookieName+"=")
	guestToken, _ = anonauth.DecodeAuthCookie(guestToken)

	res := h.post(requestOTPURL, cookie, map[string]string{"email": "  New.Buyer@example.org "})
	if res.StatusCode != 200 {
		t.Fatalf("request-otp: %d", res.StatusCode)
	}
	otpId := otpIdOf(t, res)
	code, mailedId := h.lastCode("New.Buyer@example.org")
	if mailedId != otpId {
		t.Fatalf("mail carries otp id %q, answer %q", mailedId, otpId)
	}
	if fresh, _ := h.app.FindRecordById("users", guest.Id); !anonauth.IsAnonymous(fresh) {
		t.Fatal("asking for a code must change nothing yet")
	}

	before := h.authRequests
	res = h.post(confirmOTPURL, cookie, map[string]string{"otpId": otpId, "password": code})
	if res.StatusCode != 200 {
		t.Fatalf("confirm-otp: %d", res.StatusCode)
	}
	body := decodeAuth(t, res)
	if body.Record["id"] != guest.Id || body.Record["email"] != "New.Buyer@example.org" ||
		body.Record["verified"] != true || body.Record[anonauth.FieldIsAnonymous] != false {
		t.Fatalf("not upgraded in place: %v", body.Record)
	}
	if h.authRequests != before+1 {
		t.Fatal("OnRecordAuthRequest must fire once")
	}
	if c := setCookie(res); c == "" {
		t.Fatal("no session cookie")
	} else if tok, _ := anonauth.DecodeAuthCookie(strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], anonauth.CookieName+"=")); tok != body.Token {
		t.Fatal("the cookie must carry the new token")
	}
	if tokenRecordId(h.app, guestToken) != "" {
		t.Fatal("the guest token must die with the conversion (token key rotated)")
	}
	if tokenRecordId(h.app, body.Token) != guest.Id {
		t.Fatal("the new token must work")
	}
	if _, err := h.app.FindOTPById(otpId); err == nil {
		t.Fatal("the code must be consumed")
	}
	if countEvents(t, h.app, anonauth.AuditConverted, "otp") != 1 {
		t.Fatal("want one converted event with reason otp")
	}
	var stats struct {
		Converted24h       int `db:"converted24h"`
		ConvertedByCode24h int `db:"convertedByCode24h"`
	}
	if err := h.app.DB().Select("converted24h", "convertedByCode24h").From(anonauth.StatsCollection).
		Where(dbx.HashExp{"collection": "users"}).One(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.Converted24h != 1 || stats.ConvertedByCode24h != 1 {
		t.Fatalf("stats view: %+v", stats)
	}

	// Used once: the same code again is PocketBase's 400 (and the caller
	// is no longer a guest).
	res = h.post(confirmOTPURL, "", map[string]string{"otpId": otpId, "password": code})
	if res.StatusCode != 401 {
		t.Fatalf("confirm without a session: %d", res.StatusCode)
	}
}

// TestUpgradeByCodeExistingAccount: the address of an account answers the
// same {otpId}, mails the account, and the code merges the guest into it.
func TestUpgradeByCodeExistingAccount(t *testing.T) {
	t.Parallel()
	h := newOTPHarness(t)
	guest, cookie := h.guest()
	account, err := h.app.FindAuthRecordByEmail("users", "test@example.com")
	if err != nil {
		t.Fatal(err)
	}

	res := h.post(requestOTPURL, cookie, map[string]string{"email": "test@example.com"})
	if res.StatusCode != 200 {
		t.Fatalf("request-otp: %d", res.StatusCode)
	}
	otpId := otpIdOf(t, res) // the same shape as a new address: nothing revealed
	code, _ := h.lastCode("test@example.com")

	res = h.post(confirmOTPURL, cookie, map[string]string{"otpId": otpId, "password": code})
	if res.StatusCode != 200 {
		t.Fatalf("confirm-otp: %d", res.StatusCode)
	}
	body := decodeAuth(t, res)
	if body.Record["id"] != account.Id {
		t.Fatalf("want the account's session, got %v", body.Record["id"])
	}
	if _, err := h.app.FindRecordById("users", guest.Id); err == nil {
		t.Fatal("the guest must be merged (deleted)")
	}
	if n, _ := h.app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": anonauth.AuditMerged, "recordRef": guest.Id}); n != 1 {
		t.Fatal("want the sign-in merge's event")
	}
	if c := setCookie(res); c == "" {
		t.Fatal("no session cookie")
	}
}

// TestUpgradeByCodeErrors: every bad input, with nothing changed.
func TestUpgradeByCodeErrors(t *testing.T) {
	t.Parallel()

	t.Run("no session 401, full account 400, malformed email 422 before any mail", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		if res := h.post(requestOTPURL, "", map[string]string{"email": "a@example.org"}); res.StatusCode != 401 {
			t.Fatalf("no session: %d", res.StatusCode)
		}
		_, userTok := userToken(t, h.app, "test@example.com")
		req := httptest.NewRequest(http.MethodPost, requestOTPURL, strings.NewReader(`{"email":"a@example.org"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", userTok)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != 400 {
			t.Fatalf("full account: %d", rec.Code)
		}
		_, cookie := h.guest()
		for _, bad := range []any{
			map[string]string{"email": "not-an-email"},
			map[string]string{"email": ""},
			map[string]any{"email": strings.Repeat("a", 250) + "@example.org"},
		} {
			res := h.post(requestOTPURL, cookie, bad)
			if res.StatusCode != 422 {
				t.Fatalf("%v: %d", bad, res.StatusCode)
			}
		}
		if res := h.post(requestOTPURL, cookie, []int{1}); res.StatusCode != 400 {
			t.Fatalf("hostile body: %d", res.StatusCode)
		}
		for _, bad := range []any{map[string]string{}, map[string]string{"otpId": "x"}, map[string]string{"otpId": "x", "password": strings.Repeat("1", 72)}, "text"} {
			if res := h.post(confirmOTPURL, cookie, bad); res.StatusCode != 400 {
				t.Fatalf("confirm %v: %d", bad, res.StatusCode)
			}
		}
		if h.app.TestMailer.TotalSend() != 0 {
			t.Fatal("no mail may be sent for bad input")
		}
	})

	t.Run("cross-site confirmation 403 (it would set the session cookie)", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		guest, cookie := h.guest()
		otpId := otpIdOf(t, h.post(requestOTPURL, cookie, map[string]string{"email": "x@example.org"}))
		code, _ := h.lastCode("x@example.org")
		token, _ := anonauth.DecodeAuthCookie(strings.TrimPrefix(cookie, anonauth.CookieName+"="))
		req := httptest.NewRequest(http.MethodPost, confirmOTPURL, strings.NewReader(`{"otpId":"`+otpId+`","password":"`+code+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token) // not even the cookie: a header session
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != 403 || rec.Header().Get("Set-Cookie") != "" {
			t.Fatalf("cross-site confirm: %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
		}
		if fresh, _ := h.app.FindRecordById("users", guest.Id); !anonauth.IsAnonymous(fresh) {
			t.Fatal("nothing may change")
		}
	})

	t.Run("wrong code 400, then PocketBase's attempt limit 429", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		guest, cookie := h.guest()
		otpId := otpIdOf(t, h.post(requestOTPURL, cookie, map[string]string{"email": "b@example.org"}))
		code, _ := h.lastCode("b@example.org")
		wrong := "00000000"
		if code == wrong {
			wrong = "11111111"
		}
		for i := 0; i < 5; i++ {
			res := h.post(confirmOTPURL, cookie, map[string]string{"otpId": otpId, "password": wrong})
			if res.StatusCode != 400 || !strings.Contains(readBody(t, res), "Invalid or expired OTP") {
				t.Fatalf("wrong code %d: %d", i, res.StatusCode)
			}
		}
		if res := h.post(confirmOTPURL, cookie, map[string]string{"otpId": otpId, "password": code}); res.StatusCode != 429 {
			t.Fatalf("6th attempt: %d", res.StatusCode)
		}
		if fresh, _ := h.app.FindRecordById("users", guest.Id); !anonauth.IsAnonymous(fresh) {
			t.Fatal("nothing may change")
		}
	})

	t.Run("expired code 400", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		_, cookie := h.guest()
		otpId := otpIdOf(t, h.post(requestOTPURL, cookie, map[string]string{"email": "c@example.org"}))
		code, _ := h.lastCode("c@example.org")
		if _, err := h.app.DB().NewQuery("UPDATE _otps SET created = '2000-01-01 00:00:00.000Z' WHERE id = {:id}").
			Bind(dbx.Params{"id": otpId}).Execute(); err != nil {
			t.Fatal(err)
		}
		if res := h.post(confirmOTPURL, cookie, map[string]string{"otpId": otpId, "password": code}); res.StatusCode != 400 {
			t.Fatalf("expired: %d", res.StatusCode)
		}
	})

	t.Run("another guest's code 400", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		_, cookieA := h.guest()
		_, cookieB := h.guest()
		otpId := otpIdOf(t, h.post(requestOTPURL, cookieA, map[string]string{"email": "d@example.org"}))
		code, _ := h.lastCode("d@example.org")
		if res := h.post(confirmOTPURL, cookieB, map[string]string{"otpId": otpId, "password": code}); res.StatusCode != 400 {
			t.Fatalf("foreign code: %d", res.StatusCode)
		}
	})

	t.Run("address taken mid-flight 409, nothing changed", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		guest, cookie := h.guest()
		otpId := otpIdOf(t, h.post(requestOTPURL, cookie, map[string]string{"email": "e@example.org"}))
		code, _ := h.lastCode("e@example.org")

		users, _ := h.app.FindCollectionByNameOrId("users")
		other := core.NewRecord(users)
		other.SetEmail("e@example.org")
		other.SetPassword("1234567890")
		if err := h.app.Save(other); err != nil {
			t.Fatal(err)
		}

		res := h.post(confirmOTPURL, cookie, map[string]string{"otpId": otpId, "password": code})
		if res.StatusCode != 409 {
			t.Fatalf("collision: %d", res.StatusCode)
		}
		if fresh, _ := h.app.FindRecordById("users", guest.Id); !anonauth.IsAnonymous(fresh) {
			t.Fatal("the guest must stay a guest")
		}
		if _, err := h.app.FindOTPById(otpId); err != nil {
			t.Fatal("a refused confirmation must not consume the code")
		}
	})

	t.Run("a failing mail server fails the request and leaves no code", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		h.app.OnMailerRecordOTPSend().BindFunc(func(e *core.MailerRecordEvent) error {
			return errors.New("smtp: connection refused")
		})
		guest, cookie := h.guest()
		for _, email := range []string{"f@example.org", "test@example.com"} { // new address, account
			res := h.post(requestOTPURL, cookie, map[string]string{"email": email})
			if res.StatusCode != 500 || !strings.Contains(readBody(t, res), "Failed to send the email") {
				t.Fatalf("%s: %d", email, res.StatusCode)
			}
		}
		if n, _ := h.app.CountRecords(core.CollectionNameOTPs); n != 0 {
			t.Fatalf("%d codes left behind", n)
		}
		if fresh, _ := h.app.FindRecordById("users", guest.Id); !anonauth.IsAnonymous(fresh) {
			t.Fatal("nothing may change")
		}
	})

	t.Run("OTP disabled 403", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		users, _ := h.app.FindCollectionByNameOrId("users")
		users.OTP.Enabled = false
		if err := h.app.Save(users); err != nil {
			t.Fatal(err)
		}
		_, cookie := h.guest()
		if res := h.post(requestOTPURL, cookie, map[string]string{"email": "g@example.org"}); res.StatusCode != 403 {
			t.Fatalf("disabled: %d", res.StatusCode)
		}
	})

	t.Run("too many codes for one guest 429", func(t *testing.T) {
		t.Parallel()
		h := newOTPHarness(t)
		_, cookie := h.guest()
		for i := 0; i < 5; i++ {
			if res := h.post(requestOTPURL, cookie, map[string]string{"email": "h@example.org"}); res.StatusCode != 200 {
				t.Fatalf("request %d: %d", i, res.StatusCode)
			}
		}
		if res := h.post(requestOTPURL, cookie, map[string]string{"email": "h@example.org"}); res.StatusCode != 429 {
			t.Fatalf("6th request: %d", res.StatusCode)
		}
	})
}

// TestUpgradeByCodeGoAPI: the exported functions do the same without HTTP.
func TestUpgradeByCodeGoAPI(t *testing.T) {
	t.Parallel()
	h := newOTPHarness(t)
	p := anonauth.FromApp(h.app)
	guest, _ := h.guest()

	e, _ := newRequestEvent(h.app)
	e.Auth = guest
	otpId, err := p.RequestUpgradeOTP(e, "go@example.org")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := h.lastCode("go@example.org")

	e, rec := newRequestEvent(h.app)
	e.Auth = guest
	auth, err := p.ConfirmUpgradeOTP(e, otpId, code)
	if err != nil {
		t.Fatal(err)
	}
	if auth.Record.Id != guest.Id || anonauth.IsAnonymous(auth.Record) || !auth.Record.Verified() || auth.Record.Email() != "go@example.org" {
		t.Fatalf("not upgraded: %v", auth.Record)
	}
	if e.Auth.Id != guest.Id || !strings.HasPrefix(rec.Result().Header.Get("Set-Cookie"), anonauth.CookieName+"=") {
		t.Fatal("e.Auth and the cookie must follow")
	}
}

func readBody(t testing.TB, res *http.Response) string {
	t.Helper()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
