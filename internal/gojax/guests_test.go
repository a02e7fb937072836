package gojax

import (
	"net/http/httptest"
	"testing"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
)

// Hook events that embed the request event (e.g. onRecordAuthRequest's)
// are accepted, and the pointer is the one the hook holds.
func TestRequestEventArg(t *testing.T) {
	re := &core.RequestEvent{}
	re.Request = httptest.NewRequest("GET", "/", nil)
	vm := goja.New()

	if e, err := RequestEventArg(vm.ToValue(re)); err != nil || e != re {
		t.Fatalf("plain event: %v %v", e, err)
	}
	authEvent := &core.RecordAuthRequestEvent{RequestEvent: re}
	if e, err := RequestEventArg(vm.ToValue(authEvent)); err != nil || e != re {
		t.Fatalf("embedding event: %v %v", e, err)
	}
	if _, err := RequestEventArg(vm.ToValue(core.RequestEvent{})); err == nil {
		t.Fatal("a copied event must be rejected: writes to it would not reach the response")
	}
}
