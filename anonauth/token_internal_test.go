package anonauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// TestJWTHeaderIsTheLibrarys: signAuthToken writes the header segment that
// jwt.NewWithClaims writes for HS256 (it skips marshaling it every time).
func TestJWTHeaderIsTheLibrarys(t *testing.T) {
	signing, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{}).SigningString()
	if err != nil {
		t.Fatal(err)
	}
	if header, _, _ := strings.Cut(signing, "."); header != jwtHeaderHS256 {
		t.Fatalf("header %q, the library writes %q", jwtHeaderHS256, header)
	}
}

// BenchmarkRenewCookie is the work a sliding renewal adds to a request: a
// new token and the Set-Cookie line (the record JSON of the old cookie
// reused). Compare with BenchmarkCookieSessionRequest/plain.
func BenchmarkRenewCookie(b *testing.B) {
	app, err := tests.NewTestApp()
	if err != nil {
		b.Fatal(err)
	}
	defer app.Cleanup()
	p := MustRegister(app, Config{})
	users, _ := app.FindCachedCollectionByNameOrId("users")
	guest, err := p.CreateGuest(app, users)
	if err != nil {
		b.Fatal(err)
	}
	token, _ := p.NewToken(guest)
	value, _ := EncodeAuthCookie(token, guest)
	_, recordJSON, err := decodeAuthCookie(value)
	if err != nil || !sameRecordVersion(recordJSON, guest) {
		b.Fatalf("fixture: %v", err)
	}
	e := &core.RequestEvent{App: app}
	e.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		header := http.Header{}
		if err := p.renewCookie(e, header, guest, recordJSON, p.config.TokenDuration); err != nil {
			b.Fatal(err)
		}
	}
}
