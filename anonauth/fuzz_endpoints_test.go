package anonauth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Hostile input to the three endpoints, through the real router of one app
// per test: fuzz targets over the request bodies (their seeds run in every
// `go test`; `go test ./anonauth -fuzz FuzzUpgradeBody` explores further)
// and a table of forged, expired and wrong-type tokens in the header and in
// the pb_auth cookie. Every refused request must be a 4xx in PocketBase's
// error shape ({status, message, data}), never a 5xx, and write nothing.

type hostileHarness struct {
	app     *tests.TestApp
	handler http.Handler
	p       *anonauth.Plugin
}

func newHostileHarness(t testing.TB) *hostileHarness {
	t.Helper()
	app := newTestApp(t, anonauth.Config{RateLimit: -1})
	t.Cleanup(app.Cleanup)
	// bcrypt at its minimum cost: valid upgrades found by the fuzzer
	// should not cost 60 ms each.
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.Fields.GetByName("password").(*core.PasswordField).Cost = 4
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
	return &hostileHarness{app: app, handler: serve(t, app), p: anonauth.FromApp(app)}
}

type hostileRequest struct {
	path        string
	contentType string
	body        []byte
	header      map[string]string
}

func (h *hostileHarness) do(r hostileRequest) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(r.body))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(r.path, "?")
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// snapshot is what a refused request must not change.
type snapshot struct {
	users, events int
	guest         string // the guest's row, lastSeen aside (activity is not a write of the request's)
}

func (h *hostileHarness) snapshot(t testing.TB, guestId string) snapshot {
	t.Helper()
	var s snapshot
	if err := h.app.DB().NewQuery("SELECT COUNT(*) FROM users").Row(&s.users); err != nil {
		t.Fatal(err)
	}
	if err := h.app.DB().NewQuery("SELECT COUNT(*) FROM " + anonauth.EventsCollection).Row(&s.events); err != nil {
		t.Fatal(err)
	}
	if guestId != "" {
		row := struct {
			Email, Password, TokenKey, Name string
			IsAnonymous, Verified           bool
		}{}
		err := h.app.DB().NewQuery("SELECT email, password, tokenKey, name, isAnonymous, verified FROM users WHERE id = {:id}").
			Bind(map[string]any{"id": guestId}).Row(&row.Email, &row.Password, &row.TokenKey, &row.Name, &row.IsAnonymous, &row.Verified)
		if err != nil {
			s.guest = "<gone>"
		} else {
			s.guest = fmt.Sprintf("%+v", row)
		}
	}
	return s
}

// checkRefusal fails unless rec is a clean answer: 2xx, or a 4xx in
// PocketBase's error shape that changed nothing.
func checkRefusal(t testing.TB, what string, rec *httptest.ResponseRecorder, before, after snapshot) {
	t.Helper()
	body := rec.Body.String()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %.300s", what, rec.Code, body)
	}
	if rec.Code < 400 {
		return
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &shape); err != nil || len(shape) != 3 {
		t.Fatalf("%s: %d is not PocketBase's error shape: %.300s", what, rec.Code, body)
	}
	var status int
	var message string
	var data map[string]any
	if json.Unmarshal(shape["status"], &status) != nil || status != rec.Code ||
		json.Unmarshal(shape["message"], &message) != nil || message == "" ||
		json.Unmarshal(shape["data"], &data) != nil {
		t.Fatalf("%s: %d is not PocketBase's error shape: %.300s", what, rec.Code, body)
	}
	if before != after {
		t.Fatalf("%s: refused with %d but something was written:\nbefore %+v\nafter  %+v", what, rec.Code, before, after)
	}
}

// hostileBodies seed the body fuzz targets: malformed JSON, wrong types,
// nesting, control characters, unicode, huge values.
func hostileBodies() [][2]string { // content type, body
	const json = "application/json"
	const form = "application/x-www-form-urlencoded"
	big := strings.Repeat("a", 1<<20)
	return [][2]string{
		{json, ``}, {json, `{`}, {json, `}`}, {json, `null`}, {json, `[]`}, {json, `"str"`}, {json, `123`},
		{json, `{"fresh": true}`}, {json, `{"fresh": "yes"}`}, {json, `{"fresh": {"a": 1}}`}, {json, `{"fresh": 1e999}`},
		{json, `{"email": 123, "password": true, "passwordConfirm": null}`},
		{json, `{"email": ["a@b.co"], "password": {"x": 1}}`},
		{json, `{"email": "new@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "new2@example.com", "password": "12345678901", "passwordConfirm": "1234567890X"}`},
		{json, `{"email": "a\r\nBcc: evil@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "a\u0000@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "jöhn@exämple.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "ＡＢＣ@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": " spaced@example.com ", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "a b@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "<script>@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "` + strings.Repeat("a", 300) + `@example.com", "password": "12345678901", "passwordConfirm": "12345678901"}`},
		{json, `{"email": "ok3@example.com", "password": "` + strings.Repeat("p", 100) + `", "passwordConfirm": "` + strings.Repeat("p", 100) + `"}`},
		{json, `{"email": "ok4@example.com", "password": "\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000", "passwordConfirm": "\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`},
		{json, `{"email": "ok5@example.com", "password": "12345678901", "passwordConfirm": "12345678901", "name": "\u202eevil\u0000\r\n"}`},
		{json, `{"email": "ok6@example.com", "password": "12345678901", "passwordConfirm": "12345678901", "name": "` + strings.Repeat("n", 10000) + `"}`},
		{json, `{"email": "ok7@example.com", "password": "12345678901", "passwordConfirm": "12345678901", "isAnonymous": true, "verified": true, "id": "x"}`},
		{json, `{"email": "` + big + `"}`},
		{json, strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)},
		{json, `{"a":` + strings.Repeat(`{"a":`, 20_000) + `1` + strings.Repeat("}", 20_001)},
		{json, "\xff\xfe\x00"},
		{form, `email=f%40example.com&password=12345678901&passwordConfirm=12345678901`},
		{form, `email=%ZZ&password=`}, {form, `fresh=maybe`}, {form, `fresh=1&fresh=0`}, {form, strings.Repeat("a=b&", 50_000)},
		{"multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nm@example.com\r\n--xyz--"},
		{"multipart/form-data; boundary=xyz", "garbage"}, {"multipart/form-data", "--\r\n"},
		{"text/plain", `{"fresh": true}`}, {"", `{"fresh": true}`}, {"application/json; charset=utf-16", "\xff\xfe{\x00}\x00"},
	}
}

// FuzzSignInBody: auth-anonymously with any body and query.
func FuzzSignInBody(f *testing.F) {
	h := newHostileHarness(f)
	for _, b := range hostileBodies() {
		f.Add(b[0], b[1], "")
	}
	f.Add("", "", "fresh=true")
	f.Add("", "", "fresh=%ZZ")
	f.Add("", "", "fresh="+strings.Repeat("x", 5000))
	f.Fuzz(func(t *testing.T, contentType, body, query string) {
		before := h.snapshot(t, "")
		rec := h.do(hostileRequest{path: "/api/collections/users/auth-anonymously?" + query, contentType: contentType, body: []byte(body)})
		checkRefusal(t, fmt.Sprintf("sign-in %q %.80q ?%.80q", contentType, body, query), rec, before, h.snapshot(t, ""))
		if rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), `"token":"`) {
			t.Fatalf("200 without a token: %.300s", rec.Body.String())
		}
	})
}

// FuzzUpgradeBody: upgrade-anonymous with any body, from a fresh guest
// each time. An accepted upgrade must have stored a sane email.
func FuzzUpgradeBody(f *testing.F) {
	h := newHostileHarness(f)
	for _, b := range hostileBodies() {
		f.Add(b[0], b[1])
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		guest, token := guestToken(t, h.app, "users")
		before := h.snapshot(t, guest.Id)
		rec := h.do(hostileRequest{
			path: "/api/collections/users/upgrade-anonymous", contentType: contentType, body: []byte(body),
			header: map[string]string{"Authorization": token},
		})
		checkRefusal(t, fmt.Sprintf("upgrade %q %.120q", contentType, body), rec, before, h.snapshot(t, guest.Id))
		if rec.Code != http.StatusOK {
			return
		}
		fresh := reload(t, h.app, guest)
		email := fresh.Email()
		if anonauth.IsAnonymous(fresh) || email == "" || email != strings.TrimSpace(email) ||
			strings.IndexFunc(email, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
			t.Fatalf("upgrade %.120q accepted a bad email %q (anonymous=%v)", body, email, anonauth.IsAnonymous(fresh))
		}
		var hash string
		if err := h.app.DB().NewQuery("SELECT password FROM users WHERE id = {:id}").Bind(map[string]any{"id": guest.Id}).Row(&hash); err != nil || !strings.HasPrefix(hash, "$2") {
			t.Fatalf("upgrade %.120q stored no bcrypt hash (%v)", body, err)
		}
	})
}

// FuzzDeleteBody: delete-anonymous ignores its body; whatever it is, the
// answer is 204 (guest deleted) or a clean 4xx.
func FuzzDeleteBody(f *testing.F) {
	h := newHostileHarness(f)
	for _, b := range hostileBodies() {
		f.Add(b[0], b[1])
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		guest, token := guestToken(t, h.app, "users")
		before := h.snapshot(t, guest.Id)
		rec := h.do(hostileRequest{
			path: "/api/collections/users/delete-anonymous", contentType: contentType, body: []byte(body),
			header: map[string]string{"Authorization": token},
		})
		checkRefusal(t, fmt.Sprintf("delete %q %.120q", contentType, body), rec, before, h.snapshot(t, guest.Id))
		if rec.Code == http.StatusNoContent && reload(t, h.app, guest) != nil {
			t.Fatal("204 but the guest is still there")
		}
	})
}

// TestHostileTokensAndCookies: every kind of bad session, in the
// Authorization header and in the pb_auth cookie, on every endpoint.
// A bad token is no session: sign-in makes a new guest (200), upgrade and
// delete answer 401; a regular account's valid token is refused (400).
func TestHostileTokensAndCookies(t *testing.T) {
	h := newHostileHarness(t)
	users, err := h.app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	clients, err := h.app.FindCollectionByNameOrId("clients")
	if err != nil {
		t.Fatal(err)
	}

	type tokenCase struct {
		name    string
		make    func(guest *core.Record) string
		regular bool // a valid session of a non-anonymous account
	}
	sign := func(claims jwt.MapClaims, key string, d time.Duration) string {
		tok, err := security.NewJWT(claims, key, d)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	guestClaims := func(g *core.Record) jwt.MapClaims {
		return jwt.MapClaims{"type": "auth", "id": g.Id, "collectionId": g.Collection().Id, "refreshable": true}
	}
	cases := []tokenCase{
		{name: "garbage", make: func(*core.Record) string { return "not-a-token" }},
		{name: "empty bearer", make: func(*core.Record) string { return "Bearer " }},
		{name: "huge", make: func(*core.Record) string { return strings.Repeat("a", 200_000) }},
		{name: "control chars", make: func(*core.Record) string { return "a\x00b\x7f" }},
		{name: "forged signature", make: func(g *core.Record) string { return sign(guestClaims(g), "wrong-key", time.Hour) }},
		{name: "expired", make: func(g *core.Record) string {
			return sign(guestClaims(g), g.TokenKey()+users.AuthToken.Secret, -time.Hour)
		}},
		{name: "alg none", make: func(g *core.Record) string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, guestClaims(g)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return tok
		}},
		{name: "other collection id", make: func(g *core.Record) string {
			c := guestClaims(g)
			c["collectionId"] = clients.Id
			return sign(c, g.TokenKey()+clients.AuthToken.Secret, time.Hour)
		}},
		{name: "unknown record id", make: func(g *core.Record) string {
			c := guestClaims(g)
			c["id"] = "doesnotexist123"
			return sign(c, g.TokenKey()+users.AuthToken.Secret, time.Hour)
		}},
		{name: "verification token", make: func(g *core.Record) string { tok, _ := g.NewVerificationToken(); return tok }},
		{name: "password reset token", make: func(g *core.Record) string { tok, _ := g.NewPasswordResetToken(); return tok }},
		{name: "email change token", make: func(g *core.Record) string { tok, _ := g.NewEmailChangeToken("x@example.com"); return tok }},
		{name: "file token", make: func(g *core.Record) string { tok, _ := g.NewFileToken(); return tok }},
		{name: "regular account", regular: true, make: func(*core.Record) string {
			_, tok := userToken(t, h.app, "test@example.com")
			return tok
		}},
	}

	type place struct {
		name  string
		apply func(token string) map[string]string
	}
	places := []place{
		{"header", func(tok string) map[string]string { return map[string]string{"Authorization": tok} }},
		{"cookie", func(tok string) map[string]string {
			v, _ := anonauth.EncodeAuthCookie(tok, nil)
			return map[string]string{"Cookie": anonauth.CookieName + "=" + v}
		}},
	}

	for _, endpoint := range []string{"auth-anonymously", "upgrade-anonymous", "delete-anonymous"} {
		for _, tc := range cases {
			for _, pl := range places {
				name := endpoint + "/" + tc.name + "/" + pl.name
				guest, _ := guestToken(t, h.app, "users")
				body := `{"email":"hostile-` + guest.Id + `@example.com","password":"12345678901","passwordConfirm":"12345678901"}`
				before := h.snapshot(t, guest.Id)
				rec := h.do(hostileRequest{
					path: "/api/collections/users/" + endpoint, contentType: "application/json",
					body: []byte(body), header: pl.apply(tc.make(guest)),
				})
				after := h.snapshot(t, guest.Id)

				want := http.StatusUnauthorized
				switch {
				case endpoint == "auth-anonymously" && !tc.regular:
					want = http.StatusOK // no session: a new guest
				case tc.regular:
					want = http.StatusBadRequest
				}
				if rec.Code != want {
					t.Errorf("%s: want %d, got %d %.200s", name, want, rec.Code, rec.Body.String())
					continue
				}
				if want == http.StatusOK {
					if after.guest != before.guest || after.users != before.users+1 {
						t.Errorf("%s: the sign-in touched the forged session's guest or did not make one", name)
					}
					continue
				}
				checkRefusal(t, name, rec, before, after)
			}
		}
	}

	// Malformed and oversized cookies are no session at all.
	for name, cookie := range map[string]string{
		"garbage":            "pb_auth=%%%",
		"not JSON":           "pb_auth=hello",
		"JSON without token": "pb_auth=" + "%7B%22record%22%3A%7B%7D%7D",
		"duplicate":          "pb_auth=x; pb_auth=y",
		"1 MB":               "pb_auth=" + strings.Repeat("a", 1<<20),
		"many cookies":       strings.Repeat("c=1; ", 10_000) + "pb_auth=x",
		"control chars":      "pb_auth=\x00\x01\x7f",
	} {
		guest, _ := guestToken(t, h.app, "users")
		before := h.snapshot(t, guest.Id)
		rec := h.do(hostileRequest{path: "/api/collections/users/upgrade-anonymous", contentType: "application/json",
			body:   []byte(`{"email":"c@example.com","password":"12345678901","passwordConfirm":"12345678901"}`),
			header: map[string]string{"Cookie": cookie}})
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("cookie %s: want 401, got %d", name, rec.Code)
		}
		checkRefusal(t, "cookie "+name, rec, before, h.snapshot(t, guest.Id))
	}

	// A cross-site unsafe request carried by a valid guest cookie: 403.
	guest, token := guestToken(t, h.app, "users")
	v, _ := anonauth.EncodeAuthCookie(token, guest)
	before := h.snapshot(t, guest.Id)
	rec := h.do(hostileRequest{path: "/api/collections/users/delete-anonymous", header: map[string]string{
		"Cookie": anonauth.CookieName + "=" + v, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site delete: want 403, got %d", rec.Code)
	}
	checkRefusal(t, "cross-site delete", rec, before, h.snapshot(t, guest.Id))
}

// TestHugeBodies: a body over PocketBase's 32 MB limit is refused with a
// 413 before anything is parsed or written (delete-anonymous too, though it
// reads no body).
func TestHugeBodies(t *testing.T) {
	h := newHostileHarness(t)
	huge := append(append([]byte(`{"email":"`), bytes.Repeat([]byte("a"), 33<<20)...), `"}`...)
	for _, endpoint := range []string{"auth-anonymously", "upgrade-anonymous", "delete-anonymous"} {
		guest, token := guestToken(t, h.app, "users")
		before := h.snapshot(t, guest.Id)
		rec := h.do(hostileRequest{path: "/api/collections/users/" + endpoint, contentType: "application/json",
			body: huge, header: map[string]string{"Authorization": token}})
		after := h.snapshot(t, guest.Id)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: want 413, got %d %.200s", endpoint, rec.Code, rec.Body.String())
		}
		checkRefusal(t, endpoint, rec, before, after)
	}
}
