package pages

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dop251/goja"
)

func TestRouteTable(t *testing.T) {
	fsys := fstest.MapFS{
		"index.ejs":                {},
		"about.ejs":                {},
		"about/index.ejs":          {},
		"checkout/index.ejs":       {},
		"products/[id].ejs":        {},
		"products/new.ejs":         {},
		"products/[id]/edit.ejs":   {},
		"[lang]/docs/[page].ejs":   {},
		"en/docs/intro.ejs":        {},
		"(marketing)/pricing.ejs":  {},
		"(a)/(b)/deep.ejs":         {},
		"_private/header.ejs":      {},
		"sub/_private/x.ejs":       {},
		"+layout.ejs":              {},
		"+middleware.js":           {},
		"-draft.ejs":               {},
		".env":                     {},
		"node_modules/x/index.ejs": {},
		"img/logo.png":             {},
		"_hidden/page.ejs":         {},
	}
	table, err := scanRoutes(fsys, isEJS)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		url, file string
		params    map[string]string
	}{
		{"/", "index.ejs", nil},
		{"/about", "about.ejs", nil}, // x before x/index
		{"/about/", "about.ejs", nil},
		{"/checkout", "checkout/index.ejs", nil},
		{"/products/abc", "products/[id].ejs", map[string]string{"id": "abc"}},
		{"/products/new", "products/new.ejs", nil},
		{"/products/abc/edit", "products/[id]/edit.ejs", map[string]string{"id": "abc"}},
		{"/en/docs/intro", "en/docs/intro.ejs", nil},
		{"/fr/docs/intro", "[lang]/docs/[page].ejs", map[string]string{"lang": "fr", "page": "intro"}},
		{"/pricing", "(marketing)/pricing.ejs", nil},
		{"/deep", "(a)/(b)/deep.ejs", nil},
		{"/img/logo.png", "img/logo.png", nil},
		// never routed or no exact match
		{"/index", "", nil},
		{"/about/x", "", nil},
		{"/products/abc/x", "", nil},
		{"/_private/header", "", nil},
		{"/sub/_private/x", "", nil},
		{"/+layout", "", nil},
		{"/+middleware.js", "", nil},
		{"/-draft", "", nil},
		{"/.env", "", nil},
		{"/node_modules/x", "", nil},
		{"/_hidden/page", "", nil},
		{"/(marketing)/pricing", "", nil},
		{"/products/..", "", nil},
		{"/products/../about", "", nil},
		{"/img/..\\..\\x", "", nil},
		{"/img//logo.png", "", nil},
		{"relative", "", nil},
	}
	for _, c := range cases {
		r, params := table.match(c.url)
		got := ""
		if r != nil {
			got = r.file
		}
		if got != c.file {
			t.Errorf("%s: matched %q, want %q", c.url, got, c.file)
			continue
		}
		if len(params) != len(c.params) {
			t.Errorf("%s: params %v, want %v", c.url, params, c.params)
		}
		for k, v := range c.params {
			if params[k] != v {
				t.Errorf("%s: params %v, want %v", c.url, params, c.params)
			}
		}
	}
	if r, _ := table.match("/img/logo.png"); r == nil || !r.static {
		t.Error("non-.ejs files must be static routes")
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"a/b.ejs": "a/b.ejs", "/a/./b": "a/b", "a//b": "a/b"} {
		if got, ok := cleanName(in); !ok || got != want {
			t.Errorf("cleanName(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "..", "../x", "a/../../x", "a/..", "a\\b", "a\x00b", "/"} {
		if got, ok := cleanName(in); ok {
			t.Errorf("cleanName(%q) = %q, want rejection", in, got)
		}
	}
}

// Line numbers in errors are the template's, whatever the generated code
// looks like.
func TestTemplateErrorLines(t *testing.T) {
	src := "<p>one</p>\n<% const a = 1\n   const b = 2 %>\n<%= a %>\n<%# comment\nover lines %>\n<p><%= b.c.d %></p>\n"
	c, err := compileTemplate("lines.ejs", src)
	if err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	fnv, err := vm.RunProgram(c.program)
	if err != nil {
		t.Fatal(err)
	}
	fn, _ := goja.AssertFunction(fnv)
	_, err = fn(goja.Undefined(), vm.NewObject(), vm.ToValue(func(v goja.Value) goja.Value { return v }), goja.Undefined(), vm.ToValue(func(goja.Value) {}))
	ex, ok := err.(*goja.Exception)
	if !ok {
		t.Fatalf("expected an exception, got %v", err)
	}
	line := c.sourceLine(ex.Stack()[0].Position().Line)
	if line != 7 {
		t.Fatalf("error at template line %d, want 7 (%v)", line, err)
	}

	_, err = compileTemplate("bad.ejs", "ok\n\n<% if (x { %>\n")
	if te, ok := err.(*TemplateError); !ok || te.Line != 3 || !strings.Contains(te.Message, "SyntaxError") {
		t.Fatalf("expected a SyntaxError at line 3, got %#v", err)
	}
}

func TestParseSlots(t *testing.T) {
	slots, content := parseSlots("  intro\n<!-- slot:head --> <title>x</title>\n<!--slot:default-->\n<p>body</p>\n<!-- slot:empty -->\n")
	if slots["head"] != "<title>x</title>" || slots["default"] != "<p>body</p>" {
		t.Fatalf("slots %q", slots)
	}
	if _, ok := slots["empty"]; ok {
		t.Fatal("an empty slot is not a slot")
	}
	if content != "intro\n<!-- slot:empty -->" {
		t.Fatalf("content %q", content)
	}
	if s, c := parseSlots(" plain "); len(s) != 0 || c != "plain" {
		t.Fatalf("no markers: %q %q", s, c)
	}
}

// isEJS is the default plugin set's page test (pocketpages-plugin-ejs).
func isEJS(name string) bool { return strings.HasSuffix(name, ".ejs") }
