package plugins

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
)

// The Go side of pocketpages-plugin-js-sdk (js/js-sdk.js): the transport of
// pb() and the two token helpers the SDK needs.

// send is natives.send(event, method, target, headers, body) → {status,
// data}: one REST call through the router, data the response's JSON as
// plain JS values (undefined when the body is not JSON).
func (n *natives) send(call goja.FunctionCall) goja.Value {
	e, _ := call.Argument(0).Export().(*core.RequestEvent)

	headers := map[string]string{}
	if obj, ok := call.Argument(3).(*goja.Object); ok {
		for _, k := range obj.Keys() {
			headers[k] = obj.Get(k).String()
		}
	}
	var body []byte
	if b := call.Argument(4); !goja.IsUndefined(b) && !goja.IsNull(b) {
		body = []byte(b.String())
	}

	res, err := dispatchInProcess(n.handler(), e, call.Argument(1).String(), call.Argument(2).String(), headers, body)
	if err != nil {
		n.throwError(err)
	}
	out := n.vm.NewObject()
	out.Set("status", res.status)
	var data any
	if json.Unmarshal(res.body.Bytes(), &data) == nil {
		out.Set("data", jsonValue(n.vm, data))
	}
	return out
}

// handler is the router's http.Handler, nil before the server starts.
func (n *natives) handler() http.Handler {
	if n.env.Handler == nil {
		return nil
	}
	return n.env.Handler()
}

// newAuthToken is natives.newAuthToken(record): a fresh auth token for a
// record given to pb({auth}) without its token. record is a core.Record or
// a plain {id, collectionId|collectionName} object (e.g. a JSON copy).
func (n *natives) newAuthToken(v goja.Value) string {
	record, err := n.authRecord(v)
	if err == nil {
		var token string
		if token, err = record.NewAuthToken(); err == nil {
			return token
		}
	}
	n.throwError(err)
	return ""
}

func (n *natives) authRecord(v goja.Value) (*core.Record, error) {
	if record, ok := v.Export().(*core.Record); ok {
		return record, nil
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return nil, errors.New("pb(): auth must be an auth record")
	}
	str := func(name string) string {
		if val := obj.Get(name); val != nil && !goja.IsUndefined(val) && !goja.IsNull(val) {
			return val.String()
		}
		return ""
	}
	collection := str("collectionId")
	if collection == "" {
		collection = str("collectionName")
	}
	if collection == "" || str("id") == "" {
		return nil, errors.New("pb(): auth must be an auth record (with id and collectionId)")
	}
	record, err := n.env.App.FindRecordById(collection, str("id"))
	if err != nil {
		return nil, errors.New("pb(): the auth record was not found")
	}
	if !record.Collection().IsAuth() {
		return nil, errors.New("pb(): auth must be a record of an auth collection")
	}
	return record, nil
}

// tokenPayload is natives.tokenPayload(token): the token's claims, not
// verified (the SDK's getTokenPayload; the server verifies every call), or
// null for a malformed token.
func (n *natives) tokenPayload(token string) goja.Value {
	claims, err := security.ParseUnverifiedJWT(token)
	if err != nil {
		return goja.Null()
	}
	return n.vm.ToValue(map[string]any(claims))
}

// jsonValue turns decoded JSON into plain JS values (objects, arrays,
// strings, numbers, booleans, null), like JSON.parse, about twice as fast
// as goja's own JSON.parse. Object keys come in sorted order: PocketBase
// encodes its responses from Go maps, which encoding/json sorts, so this is
// the order of the REST response.
func jsonValue(vm *goja.Runtime, v any) goja.Value {
	switch v := v.(type) {
	case map[string]any:
		obj := vm.NewObject()
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			obj.Set(k, jsonValue(vm, v[k]))
		}
		return obj
	case []any:
		items := make([]any, len(v))
		for i, item := range v {
			items[i] = jsonValue(vm, item)
		}
		return vm.NewArray(items...)
	case nil:
		return goja.Null()
	default:
		return vm.ToValue(v)
	}
}
