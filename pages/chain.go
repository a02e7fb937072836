package pages

import (
	"fmt"
	"strings"

	"github.com/dop251/goja"
)

// Middlewares and loaders, as in PocketPages:
//
//   - every +middleware.js from the root folder down to the page's folder
//     runs first, root first. Its export is a function: with one parameter,
//     fn(api) returns data to merge and the chain goes on; with two,
//     fn(api, next) calls next(data) to go on, or does not (e.g. it
//     redirected) and the page is not rendered.
//   - then, in the page's folder, +load.js and the loader named after the
//     method (+get.js, +post.js, ...), each fn(api) returning data.
//
// Results are deep-merged into `data`, which the page sees as a local.
// Each function receives a copy of the page context with the data so far
// ({...api, data}).

// chainProgram drives the chain in JS, where "how many parameters does this
// function declare" and "spread the context" are native.
var chainProgram = goja.MustCompile("pocketguest:chain", `(function (api, middlewares, loaders) {
	function isPlain(o) { return o !== null && typeof o === 'object' && !Array.isArray(o) && Object.getPrototypeOf(o) === Object.prototype }
	function merge(dst, src) {
		if (!isPlain(src)) return dst
		for (const k of Object.keys(src)) {
			dst[k] = isPlain(dst[k]) && isPlain(src[k]) ? merge(Object.assign({}, dst[k]), src[k]) : src[k]
		}
		return dst
	}
	let data = {}
	let i = 0
	let done = false
	function next(extra) {
		data = merge(data, extra)
		if (i >= middlewares.length) { done = true; return }
		const fn = middlewares[i++]
		const ctx = Object.assign({}, api, { data: data })
		if (fn.length < 2) {
			next(fn(ctx))
		} else {
			fn(ctx, next)
		}
	}
	next({})
	if (!done) return null
	for (const fn of loaders) {
		data = merge(data, fn(Object.assign({}, api, { data: data })))
	}
	return data
})`, false)

var chainCompiled = &compiled{name: "pocketguest:chain", program: chainProgram}

// runChain runs the page's middlewares and loaders. It returns the merged
// data, or proceed=false if a middleware did not call next().
func (v *pageVM) runChain(st *renderState) (data goja.Value, proceed bool, err error) {
	method := strings.ToLower(st.e.Request.Method)
	var loaderFiles []string
	for _, key := range []string{"load", method} {
		if f, ok := st.route.loaders[key]; ok {
			loaderFiles = append(loaderFiles, f)
		}
	}
	if len(st.route.middlewares) == 0 && len(loaderFiles) == 0 {
		return nil, true, nil
	}

	middlewares, err := v.moduleFunctions(st, st.route.middlewares)
	if err != nil {
		return nil, false, err
	}
	loaders, err := v.moduleFunctions(st, loaderFiles)
	if err != nil {
		return nil, false, err
	}

	chain, err := v.runner.fn(chainCompiled)
	if err != nil {
		return nil, false, err
	}
	res, err := chain(goja.Undefined(), st.api, v.rt.ToValue(middlewares), v.rt.ToValue(loaders))
	if err != nil {
		return nil, false, err
	}
	if goja.IsNull(res) {
		return nil, false, nil
	}
	return res, true, nil
}

// moduleFunctions loads each file as a module whose export must be a
// function.
func (v *pageVM) moduleFunctions(st *renderState, files []string) ([]goja.Value, error) {
	fns := make([]goja.Value, 0, len(files))
	for _, f := range files {
		exported, err := v.loadModule(st, f)
		if err != nil {
			return nil, err
		}
		if _, ok := goja.AssertFunction(exported); !ok {
			return nil, &TemplateError{File: f, Message: fmt.Sprintf("module.exports must be a function, got %s", exported.String())}
		}
		fns = append(fns, exported)
	}
	return fns, nil
}
