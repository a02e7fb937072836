package anonauth

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
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
