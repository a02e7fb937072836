package pages

import (
	"net/http"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/pocketguest/pocketguest/internal/gojax"
	"github.com/pocketguest/pocketguest/internal/uricomponent"
)

// The response object of a page: response.status(), header(), cookie(),
// json(), html(), redirect(), write().

// responseOverride is a body set with response.json() or response.html();
// it replaces the template output.
type responseOverride struct {
	json   bool
	status int
	data   any
	body   string
}

// jsStatus is response.status(code?).
func (v *pageVM) jsStatus(call goja.FunctionCall) goja.Value {
	st := v.current("response.status")
	if a := call.Argument(0); !goja.IsUndefined(a) {
		code := int(a.ToInteger())
		if code < 100 || code > 999 {
			gojax.Throw(v.rt, gojax.BadArg("Invalid response status %d", code))
		}
		st.status = code
	}
	return v.rt.ToValue(st.status)
}

// jsResponseHeader is response.header(name, value?).
func (v *pageVM) jsResponseHeader(call goja.FunctionCall) goja.Value {
	st := v.current("response.header")
	name := call.Argument(0).String()
	if val := call.Argument(1); !goja.IsUndefined(val) {
		st.e.Response.Header().Set(name, val.String())
		return val
	}
	return v.rt.ToValue(st.e.Response.Header().Get(name))
}

// jsCookie is response.cookie(name, value, options): like PocketPages (the
// "cookie" package's serialize, Path=/ by default, non-strings as JSON), but
// every cookie set in a response is kept, not just the last.
func (v *pageVM) jsCookie(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "response.cookie")
	st := v.current("response.cookie")
	name := call.Argument(0).String()
	raw := call.Argument(1)
	value := ""
	if goja.IsString(raw) {
		value = raw.String()
	} else if !goja.IsUndefined(raw) {
		value = v.text([]goja.Value{raw})
	}

	c := &http.Cookie{Name: name, Value: uricomponent.Encode(value), Path: "/"}
	if opts, ok := call.Argument(2).(*goja.Object); ok {
		for _, k := range opts.Keys() {
			o := opts.Get(k)
			switch strings.ToLower(k) {
			case "path":
				c.Path = o.String()
			case "domain":
				c.Domain = o.String()
			case "maxage":
				c.MaxAge = int(o.ToInteger())
				if c.MaxAge == 0 {
					c.MaxAge = -1 // Max-Age=0: delete now
				}
			case "expires":
				if t, ok := o.Export().(time.Time); ok {
					c.Expires = t
				} else if t, err := time.Parse(time.RFC1123, o.String()); err == nil {
					c.Expires = t
				}
			case "httponly":
				c.HttpOnly = o.ToBoolean()
			case "secure":
				c.Secure = o.ToBoolean()
			case "samesite":
				switch strings.ToLower(o.String()) {
				case "strict", "true":
					c.SameSite = http.SameSiteStrictMode
				case "lax":
					c.SameSite = http.SameSiteLaxMode
				case "none":
					c.SameSite = http.SameSiteNoneMode
				}
			}
		}
	}
	if err := c.Valid(); err != nil {
		gojax.Throw(v.rt, gojax.BadArg("Invalid cookie: %v", err))
	}
	serialized := c.String()
	st.e.Response.Header().Add("Set-Cookie", serialized)
	return v.rt.ToValue(serialized)
}

// jsJSON is response.json(status, data): the response becomes data as JSON
// (the template output is dropped). The render goes on, as in PocketPages.
func (v *pageVM) jsJSON(call goja.FunctionCall) goja.Value {
	st := v.current("response.json")
	st.override = &responseOverride{json: true, status: int(call.Argument(0).ToInteger()), data: call.Argument(1).Export()}
	st.status = st.override.status
	return goja.Undefined()
}

// jsHTML is response.html(status, html): the response becomes html.
func (v *pageVM) jsHTML(call goja.FunctionCall) goja.Value {
	st := v.current("response.html")
	st.override = &responseOverride{status: int(call.Argument(0).ToInteger()), body: call.Argument(1).String()}
	st.status = st.override.status
	return goja.Undefined()
}

// jsResponseRedirect is response.redirect(path, status = 302); like
// redirect() it stops the render.
func (v *pageVM) jsResponseRedirect(call goja.FunctionCall) goja.Value {
	defer gojax.Guard(v.pg.p.app, v.rt, "response.redirect")
	st := v.current("response.redirect")
	status := http.StatusFound
	if s := call.Argument(1); !goja.IsUndefined(s) {
		status = int(s.ToInteger())
	}
	v.redirect(st, call.Argument(0).String(), status, "")
	return goja.Undefined()
}

// jsWrite is response.write(s): output at the current position.
func (v *pageVM) jsWrite(call goja.FunctionCall) goja.Value {
	v.current("response.write")
	v.echo(call.Argument(0).String())
	return goja.Undefined()
}
