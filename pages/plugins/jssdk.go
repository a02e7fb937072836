package plugins

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"

	"github.com/dop251/goja"
	"github.com/go-json-experiment/json/jsontext"
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

	status, resBody, err := DispatchInProcess(n.handler(), e, call.Argument(1).String(), call.Argument(2).String(), headers, body)
	if err != nil {
		n.throwError(err)
	}
	out := n.vm.NewObject()
	out.Set("status", status)
	if data, err := jsonValue(n.vm, resBody); err == nil {
		out.Set("data", data)
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

// jsonValue parses a JSON response into plain JS values (objects, arrays,
// strings, numbers, booleans, null) in one streaming pass, as JSON.parse
// would — key order kept — at about half the cost of goja's JSON.parse,
// which matters: a list response is most of what pb() spends outside the
// REST handler.
func jsonValue(vm *goja.Runtime, data []byte) (goja.Value, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	v, err := readJSONValue(vm, dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errors.New("invalid JSON: trailing data")
	}
	return v, nil
}

func readJSONValue(vm *goja.Runtime, dec *jsontext.Decoder) (goja.Value, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		obj := vm.NewObject()
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := tok.String() // before the next read voids tok
			v, err := readJSONValue(vm, dec)
			if err != nil {
				return nil, err
			}
			obj.Set(name, v)
		}
		_, err := dec.ReadToken()
		return obj, err
	case '[':
		var items []any
		for dec.PeekKind() != ']' {
			v, err := readJSONValue(vm, dec)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		_, err := dec.ReadToken()
		return vm.NewArray(items...), err
	case '"':
		return vm.ToValue(tok.String()), nil
	case '0':
		f := tok.Float()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return vm.ToValue(int64(f)), nil // an integer, as JSON.parse gives
		}
		return vm.ToValue(f), nil
	case 't', 'f':
		return vm.ToValue(tok.Bool()), nil
	default: // 'n'
		return goja.Null(), nil
	}
}
