package anonauth_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketguest/pocketguest/anonauth"
)

// FuzzDecodeAuthCookie: any cookie value decodes to a token or an error,
// never a panic; and whatever token is encoded comes back unchanged.
// Seeds (run by every `go test`): SDK cookies, quoting, bad escapes, bad
// JSON, wrong types, huge and nested values.
func FuzzDecodeAuthCookie(f *testing.F) {
	valid, err := anonauth.EncodeAuthCookie("eyJhbGciOiJIUzI1NiJ9.e30.sig", nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		valid,
		`"` + valid + `"`,
		url.PathEscape(`{"token":"abc","record":{"id":"x"}}`),
		`{"token":"abc"}`,
		"", `"`, `""`, "%", "%zz", "%7B", "%7B%22token%22%3A123%7D", // {"token":123}
		url.PathEscape(`{"token":""}`),
		url.PathEscape(`{"token":null}`),
		url.PathEscape(`{"token":["a"]}`),
		url.PathEscape(`["token"]`),
		url.PathEscape(`null`),
		url.PathEscape(`{"token":"a","token":"b"}`),
		url.PathEscape(`{"token":"\u0000\r\n"}`),
		url.PathEscape(`{"token":"` + strings.Repeat("a", 100_000) + `"}`),
		url.PathEscape(strings.Repeat("[", 20_000)),
		"\xff\xfe", "pb_auth=x; pb_auth=y", strings.Repeat("%", 10_000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		token, err := anonauth.DecodeAuthCookie(value)
		if err == nil && token == "" {
			t.Fatalf("%q: no error and no token", value)
		}

		// Round trip with the value as a token (any string, even invalid
		// UTF-8, which JSON turns into U+FFFD: compare with what JSON keeps).
		enc, err := anonauth.EncodeAuthCookie(value, nil)
		if err != nil {
			t.Fatalf("encode %q: %v", value, err)
		}
		if strings.ContainsAny(enc, " ;,\"\\\r\n\x00") {
			t.Fatalf("encoded cookie value has characters a cookie cannot carry: %q", enc)
		}
		back, err := anonauth.DecodeAuthCookie(enc)
		if value == "" {
			if err == nil {
				t.Fatal("an empty token must not decode")
			}
			return
		}
		if err != nil || back != jsonString(value) {
			t.Fatalf("round trip of %q: got %q, %v", value, back, err)
		}
	})
}

// jsonString is s as it comes back from a JSON round trip.
func jsonString(s string) string {
	raw, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(raw, &out)
	return out
}
