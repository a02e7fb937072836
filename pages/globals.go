package pages

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/dop251/goja"
)

// The globalApi functions PocketPages gives every page that the request
// context does not already cover: stringify() and url().

// stringifyProgram is JSON.stringify that writes "[Circular]" for an object
// that contains itself (instead of throwing), like pocketbase-stringify. An
// object that merely appears twice (not inside itself) is written twice.
var stringifyProgram = goja.MustCompile("pocketguest:stringify", `(function (value, replacer, space) {
	var path = []
	return JSON.stringify(value, function (key, v) {
		if (typeof replacer === 'function') v = replacer.call(this, key, v)
		if (v !== null && typeof v === 'object') {
			while (path.length > 0 && path[path.length - 1] !== this) path.pop()
			if (path.indexOf(v) !== -1) return '[Circular]'
			path.push(v)
		}
		return v
	}, space)
})`, false)

var stringifyCompiled = &compiled{name: "pocketguest:stringify", program: stringifyProgram}

// jsStringify is stringify(value, replacer?, space?).
func (v *pageVM) jsStringify(call goja.FunctionCall) goja.Value {
	fn, err := v.runner.fn(stringifyCompiled)
	if err != nil {
		v.rethrow(err)
	}
	res, err := fn(goja.Undefined(), call.Argument(0), call.Argument(1), call.Argument(2))
	if err != nil {
		v.rethrow(err)
	}
	return res
}

// jsURL is url(s): s parsed like PocketPages' url() (url-parse with the
// query parsed, each value JSON-decoded when it is JSON): protocol, host,
// hostname, port, pathname, query, hash, origin, href; toString() builds
// the URL again from the (possibly changed) fields.
func (v *pageVM) jsURL(call goja.FunctionCall) goja.Value {
	raw := call.Argument(0).String()
	u, err := url.Parse(raw)
	if err != nil {
		panic(v.rt.NewTypeError("url(): " + err.Error()))
	}
	obj := v.rt.NewObject()
	protocol := ""
	if u.Scheme != "" {
		protocol = u.Scheme + ":"
	}
	obj.Set("protocol", protocol)
	obj.Set("slashes", u.Host != "")
	obj.Set("auth", u.User.String())
	obj.Set("username", u.User.Username())
	password, _ := u.User.Password()
	obj.Set("password", password)
	obj.Set("host", u.Host)
	obj.Set("hostname", u.Hostname())
	obj.Set("port", u.Port())
	obj.Set("pathname", u.Path)
	obj.Set("hash", fragment(u))
	origin := ""
	if u.Host != "" {
		origin = protocol + "//" + u.Host
	}
	obj.Set("origin", origin)

	query := v.rt.NewObject()
	for _, pair := range strings.Split(u.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		key, _ := url.QueryUnescape(k)
		value, _ := url.QueryUnescape(val)
		var parsed any
		if json.Unmarshal([]byte(value), &parsed) == nil {
			query.Set(key, parsed)
		} else {
			query.Set(key, value)
		}
	}
	obj.Set("query", query)
	obj.Set("toString", v.natives["urlBuild"])
	obj.Set("href", v.buildURL(obj))
	return obj
}

func fragment(u *url.URL) string {
	if u.Fragment == "" {
		return ""
	}
	return "#" + u.Fragment
}

// buildURL is toString() of a url() object.
func (v *pageVM) buildURL(obj *goja.Object) string {
	str := func(name string) string {
		if val := obj.Get(name); val != nil && !goja.IsUndefined(val) && !goja.IsNull(val) {
			return val.String()
		}
		return ""
	}
	var b strings.Builder
	if host := str("host"); host != "" {
		b.WriteString(str("protocol") + "//")
		if auth := str("auth"); auth != "" {
			b.WriteString(auth + "@")
		}
		b.WriteString(host)
	}
	b.WriteString(str("pathname"))
	if q, ok := obj.Get("query").(*goja.Object); ok && q != nil {
		sep := "?"
		for _, k := range q.Keys() {
			val := q.Get(k)
			s := ""
			switch {
			case goja.IsUndefined(val) || goja.IsNull(val):
			case goja.IsString(val):
				s = val.String()
			default:
				s = v.text([]goja.Value{val})
			}
			b.WriteString(sep + url.QueryEscape(k) + "=" + url.QueryEscape(s))
			sep = "&"
		}
	}
	b.WriteString(str("hash"))
	return b.String()
}
