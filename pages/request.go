package pages

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/dop251/goja"

	"github.com/pocketguest/pocketguest/internal/gojax"
)

// The request side of a page's context: request.url, cookies(), body() /
// formData().

// urlObject is request.url: pathname, search, query and href (path and
// query, as PocketPages parses the request URI), converting to href.
func (v *pageVM) urlObject(u *url.URL) *goja.Object {
	rt := v.rt
	obj := rt.NewObject()
	query := rt.NewObject()
	for k, vals := range u.Query() {
		if len(vals) > 0 {
			query.Set(k, vals[0])
		}
	}
	search := ""
	if u.RawQuery != "" {
		search = "?" + u.RawQuery
	}
	obj.Set("pathname", u.Path)
	obj.Set("search", search)
	obj.Set("query", query)
	obj.Set("href", u.EscapedPath()+search)
	obj.Set("toString", v.natives["urlToString"])
	return obj
}

// jsCookies is request.cookies(name?): cookie values URI-decoded and, when
// they are JSON, parsed (so cookies("pb_auth").token works).
func (v *pageVM) jsCookies(call goja.FunctionCall) goja.Value {
	st := v.current("cookies")
	if st.cookies == nil {
		st.cookies = map[string]any{}
		for _, c := range st.e.Request.Cookies() {
			val := c.Value
			if dec, err := url.PathUnescape(val); err == nil {
				val = dec
			}
			var parsed any
			if err := json.Unmarshal([]byte(val), &parsed); err == nil {
				st.cookies[c.Name] = parsed
			} else {
				st.cookies[c.Name] = val
			}
		}
	}
	if len(call.Arguments) == 0 || goja.IsUndefined(call.Argument(0)) {
		return v.rt.ToValue(st.cookies)
	}
	val, ok := st.cookies[call.Argument(0).String()]
	if !ok {
		return goja.Undefined()
	}
	return v.rt.ToValue(val)
}

// jsBody is body() / formData(): the parsed request body (JSON, form or
// multipart), as PocketBase's requestInfo().body.
func (v *pageVM) jsBody(call goja.FunctionCall) goja.Value {
	st := v.current("body")
	info, err := st.e.RequestInfo()
	if err != nil {
		gojax.Throw(v.rt, gojax.BadArg("Invalid request body: %v", err))
	}
	return v.rt.ToValue(info.Body)
}

// bodyFunc returns the body()/formData() function for st. For requests that
// carry a body it is a new function object that also has the fields as
// properties, so both PocketPages' formData() and the docs' formData.action
// spelling work.
func (v *pageVM) bodyFunc(st *renderState) goja.Value {
	r := st.e.Request
	if r.Method == http.MethodGet || r.Method == http.MethodHead || (r.ContentLength == 0 && len(r.TransferEncoding) == 0) {
		return v.natives["body"]
	}
	fn := v.rt.ToValue(v.jsBody).ToObject(v.rt)
	if info, err := st.e.RequestInfo(); err == nil {
		for k, val := range info.Body {
			_ = fn.DefineDataProperty(k, v.rt.ToValue(val), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		}
	}
	return fn
}
