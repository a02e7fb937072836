package pages

import (
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

// Fuzz targets of the template router's path handling. The seeds run in
// every `go test`; `go test ./pages -fuzz FuzzRouteMatch` explores further.

// hostilePaths are the seed corpus shared by the targets: traversal in
// every spelling, hidden files, odd characters.
var hostilePaths = []string{
	"/", "", "x", "//", "/./", "/../", "/..", "/a/../b", "/a/./b", "/a//b",
	"/../../etc/passwd", "/products/../_private/header", "/_private/header",
	"/_private/header.ejs", "/+layout", "/+layout.ejs", "/-draft", "/.env", "/node_modules/x",
	"/products/..%2F..%2Fetc", "/products/%2e%2e", "/products/..\\..\\x", "/products/a\x00b",
	"/products/[id]", "/products/%5Bid%5D", "/(shop)/cart", "/cart", "/products/ü/é",
	"/products/\u202e\u0000", "/products/" + strings.Repeat("a", 5000), strings.Repeat("/a", 300),
	"/products/p1/", "/products/p1//", "/img/logo.png", "/img/logo.0123456789abcdef.png",
	"/img/../img/logo.png", "/about/", "/about/index", "/index", "/en/docs/intro",
}

// FuzzSplitURLPath: a path is either refused or split into segments that
// cannot address anything outside the folder they name.
func FuzzSplitURLPath(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, ok := splitURLPath(p)
		if !ok {
			if segs != nil {
				t.Fatalf("%q: refused but returned %q", p, segs)
			}
			return
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
				t.Fatalf("%q: unsafe segment %q in %q", p, s, segs)
			}
		}
		joined := "/" + strings.Join(segs, "/")
		if path.Clean(joined) != joined {
			t.Fatalf("%q: segments %q are not a clean path", p, segs)
		}
	})
}

// routerFS is a templates tree with pages, params, groups, static files and
// everything that must never be routed.
var routerFS = fstest.MapFS{
	"index.ejs":              {},
	"about.ejs":              {},
	"about/index.ejs":        {},
	"products/[id].ejs":      {},
	"products/new.ejs":       {},
	"products/[id]/edit.ejs": {},
	"[lang]/docs/[page].ejs": {},
	"en/docs/intro.ejs":      {},
	"(shop)/cart.ejs":        {},
	"img/logo.png":           {},
	"odd name ü.ejs":         {},
	"%2e%2e.ejs":             {},
	"_private/header.ejs":    {},
	"sub/_private/x.ejs":     {},
	"+layout.ejs":            {},
	"+load.js":               {},
	"+middleware.js":         {},
	"-draft.ejs":             {},
	".env":                   {},
	"node_modules/x/a.ejs":   {},
	"_hidden/page.ejs":       {},
}

// FuzzRouteMatch: whatever the URL, the router only ever picks a routable
// file of the tree (never a _private, +, -, dot or node_modules file), and a
// route parameter never spans or escapes a segment.
func FuzzRouteMatch(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p)
	}
	table, err := scanRoutes(routerFS, isEJS)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, params := table.match(p)
		if plain, _, ok := splitFingerprint(p); ok {
			table.match(plain) // must not panic either
		}
		if rt == nil {
			return
		}
		if _, ok := routerFS[rt.file]; !ok || !fs.ValidPath(rt.file) {
			t.Fatalf("%q matched %q, not a file of the tree", p, rt.file)
		}
		for _, seg := range strings.Split(rt.file, "/") {
			if isHidden(seg) {
				t.Fatalf("%q matched the hidden file %q", p, rt.file)
			}
		}
		for name, v := range params {
			if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\\x00") {
				t.Fatalf("%q: unsafe param %s=%q", p, name, v)
			}
		}
	})
}

// FuzzCleanName: the names include(), resolve() and asset() accept stay
// inside the templates root.
func FuzzCleanName(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p)
	}
	for _, p := range []string{"header", "../header", "a/../../b", "/abs/x.ejs", "x\\..\\y", ".", "./x", "a/./b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, name string) {
		clean, ok := cleanName(name)
		if !ok {
			return
		}
		if !fs.ValidPath(clean) || clean == "." || strings.HasPrefix(clean, "/") || strings.Contains(clean, "\\") {
			t.Fatalf("%q → %q escapes or is invalid", name, clean)
		}
		for _, seg := range strings.Split(clean, "/") {
			if seg == ".." {
				t.Fatalf("%q → %q has a .. segment", name, clean)
			}
		}
	})
}
