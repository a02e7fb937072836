package pages

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// The last step of a page request: the plugins' onResponse (in the VM),
// then the response written from the render's outcome.

// onResponse offers the rendered content to each plugin's
// onResponse({content, api, route}); the first that returns true has
// answered (typically through api.response), and the default HTML answer
// is skipped.
func (v *pageVM) onResponse(st *renderState, content string) error {
	if !v.plugins.hasJS {
		return nil
	}
	for _, p := range v.plugins.list {
		if p.onResponse == nil {
			continue
		}
		ctx := v.rt.NewObject()
		ctx.Set("content", content)
		ctx.Set("api", st.api)
		ctx.Set("route", v.routeObject(st))
		res, err := p.onResponse(p.obj, ctx)
		if err != nil {
			return err
		}
		if res != nil && res.ToBoolean() {
			st.handled = true
			return nil
		}
	}
	return nil
}

// respond writes the response of a finished render.
func (pg *pages) respond(e *core.RequestEvent, st *renderState) error {
	switch {
	case st.redirectTo != "":
		return e.Redirect(st.redirectStatus, st.redirectTo)
	case st.err != nil:
		return pg.fail(e, st.err)
	case e.Written():
		return nil // the page or a plugin wrote the response itself (e.g. SSE)
	case st.file != nil:
		if err := e.FileFS(st.file.fsys, st.file.name); err != nil {
			return router.NewNotFoundError("", err)
		}
		return nil
	case st.override != nil:
		if st.override.json {
			return e.JSON(st.override.status, st.override.data)
		}
		return e.HTML(st.override.status, st.override.body)
	case st.stopped, st.handled:
		return e.HTML(st.status, "")
	case st.jsonOut:
		return e.Blob(st.status, "application/json", []byte(st.out))
	}

	if ct := e.Response.Header().Get("Content-Type"); ct != "" {
		return e.Blob(st.status, ct, []byte(st.out))
	}
	return e.HTML(st.status, st.out)
}

// fileResponse is a file set with response.file(path).
type fileResponse struct {
	fsys fs.FS
	name string
}

// jsFile is response.file(path): the response becomes the file (with its
// content type, range requests and caching headers, like a static file). A
// relative path is relative to the pages root; an absolute one is served
// as is (pages are server code, as in PocketPages).
func (v *pageVM) jsFile(call goja.FunctionCall) goja.Value {
	st := v.current("response.file")
	ref := call.Argument(0).String()
	if filepath.IsAbs(ref) {
		st.file = &fileResponse{fsys: os.DirFS(filepath.Dir(ref)), name: filepath.Base(ref)}
		return goja.Undefined()
	}
	name, ok := cleanName(ref)
	if !ok || !v.src.exists(name) {
		panic(v.rt.NewGoError(router.NewNotFoundError("response.file: no such file "+ref, nil)))
	}
	st.file = &fileResponse{fsys: v.pg.root.FS(), name: name}
	st.status = http.StatusOK
	return goja.Undefined()
}
