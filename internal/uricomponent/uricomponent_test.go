package uricomponent

import (
	"net/url"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// TestEncodeMatchesJavaScript compares Encode with encodeURIComponent of a
// real JS engine (goja, the one pb_hooks and pages run in).
func TestEncodeMatchesJavaScript(t *testing.T) {
	var ascii strings.Builder
	for c := 0; c < 128; c++ {
		ascii.WriteByte(byte(c))
	}
	inputs := []string{
		"",
		ascii.String(),
		`{"token":"eyJhbGciOi.x_y-z","record":{"id":"abc","email":"a+b@example.com"}}`,
		"space and+plus & = ? / # : @ ; , $ % ~ ! * ' ( )",
		"Grüße, 日本語, emoji 🎉, combining é",
	}

	vm := goja.New()
	js, err := vm.RunString("(s) => encodeURIComponent(s)")
	if err != nil {
		t.Fatal(err)
	}
	encode, _ := goja.AssertFunction(js)

	for _, in := range inputs {
		want, err := encode(goja.Undefined(), vm.ToValue(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := Encode(in); got != want.String() {
			t.Errorf("Encode(%q)\n got %q\nwant %q (encodeURIComponent)", in, got, want.String())
		}
		if back, err := url.PathUnescape(Encode(in)); err != nil || back != in {
			t.Errorf("url.PathUnescape(Encode(%q)) = %q, %v", in, back, err)
		}
	}
}
