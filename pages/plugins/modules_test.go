package plugins

import (
	"sort"
	"testing"

	"github.com/dop251/goja"
)

func TestEveryModuleExportsAFactory(t *testing.T) {
	h := newTestHost(t, Env{})
	names := Names()
	sort.Strings(names)
	if len(names) != 6 {
		t.Fatalf("built-in modules: %v", names)
	}
	for _, name := range names {
		exports := h.require(name).ToObject(h.vm)
		if _, ok := goja.AssertFunction(exports); !ok {
			t.Fatalf("%s: module.exports is not a factory", name)
		}
		if _, ok := goja.AssertFunction(exports.Get("default")); !ok {
			t.Fatalf("%s: no default export", name)
		}
		if _, ok := Module(name + "/dist/index.js"); !ok {
			t.Fatalf("%s: the package's entry file does not resolve", name)
		}
	}
	for _, name := range []string{"pocketpages-plugin-ejs", "pocketpages", "pocketpages-plugin-nope", ""} {
		if _, ok := Module(name); ok {
			t.Fatalf("%q must not be a built-in plugin module", name)
		}
	}
}
