package pages

import (
	"fmt"
	"path"

	"github.com/dop251/goja"
)

// pocketpages-plugin-ejs, the engine's renderer: PocketPages' EJS plugin,
// run in Go (ejs.go compiles templates once to shared goja programs).
//
//	{ name: 'pocketpages-plugin-ejs', extensions: ['.ejs', '.md'] }
//
// extensions (default ['.ejs']) are the files it renders: they become
// routable pages, and include() finds them without their extension. A .md
// page goes through EJS first, then through the other plugins' onRender
// (pocketpages-plugin-marked turns it into HTML).

type ejsPlugin struct {
	extensions []string
}

func (p *ejsPlugin) handles(name string) bool {
	ext := path.Ext(name)
	for _, e := range p.extensions {
		if e == ext {
			return true
		}
	}
	return false
}

// ejsPluginModule is require('pocketpages-plugin-ejs') in a page VM: the
// factory. The plugin object it returns also has working handles() and
// onRender() for JS plugins that call other plugins.
func (v *pageVM) ejsPluginModule(rt *goja.Runtime, module *goja.Object) {
	module.Set("exports", func(call goja.FunctionCall) goja.Value {
		p := &ejsPlugin{extensions: []string{".ejs"}}
		if extra, ok := call.Argument(1).(*goja.Object); ok && extra != nil {
			for _, k := range extra.Keys() {
				switch k {
				case "name", "debug":
				case "extensions":
					var exts []string
					if err := rt.ExportTo(extra.Get(k), &exts); err != nil || len(exts) == 0 {
						panic(rt.NewTypeError("pocketpages-plugin-ejs: extensions must be a list like ['.ejs', '.md']"))
					}
					p.extensions = exts
				default:
					panic(rt.NewTypeError(fmt.Sprintf("pocketpages-plugin-ejs: invalid config key %q (expected extensions, debug)", k)))
				}
			}
		}
		obj := rt.NewObject()
		obj.Set("name", "ejs")
		obj.Set("handles", func(call goja.FunctionCall) goja.Value {
			ctx := call.Argument(0).ToObject(rt)
			return rt.ToValue(p.handles(ctx.Get("filePath").String()))
		})
		obj.Set("onRender", func(call goja.FunctionCall) goja.Value {
			ctx := call.Argument(0).ToObject(rt)
			content := ctx.Get("content")
			name, ok := v.pagesName(ctx.Get("filePath").String())
			if !ok || !p.handles(name) {
				return content
			}
			api, _ := ctx.Get("api").(*goja.Object)
			out, err := v.renderTemplate(name, api)
			if err != nil {
				v.rethrow(err)
			}
			return rt.ToValue(out)
		})
		if v.ejsInstances == nil {
			v.ejsInstances = map[*goja.Object]*ejsPlugin{}
		}
		v.ejsInstances[obj] = p
		return obj
	})
}
