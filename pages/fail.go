package pages

import (
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strings"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// fail answers a failed render: logged always, detailed in dev mode and
// generic in production. A status carried by the thrown error (e.g. 429
// from an uncaught signInAnonymously) is kept.
func (pg *pages) fail(e *core.RequestEvent, err error) error {
	te := pg.locate(err)
	status := te.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}

	pg.p.app.Logger().Error("template error",
		slog.String("url", e.Request.URL.String()),
		slog.String("file", te.File),
		slog.Int("line", te.Line),
		slog.String("error", te.Message),
		slog.Int("status", status),
	)

	if e.Written() {
		return nil
	}

	var body strings.Builder
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	body.WriteString("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body><h1>" + title + "</h1>")
	if pg.p.config.TemplatesDev {
		body.WriteString("<pre>" + html.EscapeString(te.Error()))
		if te.Stack != "" {
			body.WriteString("\n\n" + html.EscapeString(te.Stack))
		}
		body.WriteString("</pre>")
	}
	body.WriteString("</body></html>")

	return e.HTML(status, body.String())
}

// locate turns a render error into a TemplateError naming the innermost
// template (or page module) line involved.
func (pg *pages) locate(err error) *TemplateError {
	var te *TemplateError
	if errors.As(err, &te) {
		return te
	}

	te = &TemplateError{File: "?", Message: err.Error(), cause: err}
	var se *SetupError
	if errors.As(err, &se) {
		te.File = se.File
		te.Message = strings.TrimPrefix(se.Error(), se.File+": ")
		return te
	}

	var frames []goja.StackFrame
	var ie *goja.InterruptedError
	var ex *goja.Exception
	switch {
	case errors.As(err, &ie):
		te.Message = fmt.Sprint(ie.Value())
		frames = ie.Stack()
	case errors.As(err, &ex):
		te.Message = ex.Value().String()
		frames = ex.Stack()
		if obj, ok := ex.Value().(*goja.Object); ok {
			if s := obj.Get("status"); s != nil && goja.IsNumber(s) {
				te.Status = int(s.ToInteger())
			}
			// an uncaught Go error (e.g. from a PocketBase binding)
			if gv := obj.Get("value"); gv != nil && te.Status == 0 {
				var apiErr *router.ApiError
				if goErr, ok := gv.Export().(error); ok && errors.As(goErr, &apiErr) {
					te.Status = apiErr.Status
				}
			}
		}
	}

	var stack strings.Builder
	located := false
	for _, f := range frames {
		c := pg.src.lookup(f.SrcName())
		if c == nil {
			continue
		}
		line := c.sourceLine(f.Position().Line)
		if !located {
			te.File, te.Line, located = c.name, line, true
		}
		fmt.Fprintf(&stack, "    at %s (%s:%d)\n", f.FuncName(), c.name, line)
	}
	te.Stack = stack.String()
	return te
}
