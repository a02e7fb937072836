package pages

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The page router maps URL paths to files under the templates directory,
// with PocketPages' rules:
//
//	index.ejs            → /
//	about.ejs            → /about          (tried before about/index.ejs)
//	checkout/index.ejs   → /checkout
//	products/[id].ejs    → /products/abc   params.id = "abc"
//	(shop)/cart.ejs      → /cart           (group folders vanish)
//	docs/intro.md        → /docs/intro     (with an ejs plugin for '.md')
//	css/site.css         → /css/site.css   (files no plugin renders are static)
//	_private/, +layout.ejs, -draft.ejs     never routed
//
// Unlike PocketPages, a page answers only its exact path (about.ejs does not
// answer /about/x). A static segment beats a parameter at the same position.

// route is one routable file.
type route struct {
	file     string   // slash path relative to the templates root
	segments []string // URL segments; "[name]" is a parameter
	static   bool     // served as a file, not rendered
	index    bool     // the file is an index.ejs (loses ties to x.ejs)
	params   int      // number of parameter segments

	// For pages: the +files that apply, found when the table is built.
	layouts     []string          // +layout.ejs, innermost folder first
	middlewares []string          // +middleware.js, root folder first
	loaders     map[string]string // "load", "get", "post", ... → +load.js, +get.js, ...
}

// routeTable is an immutable snapshot of the templates directory.
type routeTable struct {
	exact  map[string]*route // routes without parameters, by URL path
	params []*route          // routes with parameters, most specific first
}

// lookup finds the file for a URL path: a route, or a static file under
// its asset() name (the file's name with its content fingerprint, returned
// as fingerprint). rt is nil if nothing matches.
func (t *routeTable) lookup(urlPath string) (rt *route, params map[string]string, fingerprint string) {
	if rt, params = t.match(urlPath); rt != nil {
		return rt, params, ""
	}
	if plain, sum, ok := splitFingerprint(urlPath); ok {
		if r, _ := t.match(plain); r != nil && r.static {
			return r, nil, sum
		}
	}
	return nil, nil, ""
}

// match finds the file for a URL path. It returns nil if nothing matches.
// Route parameters are returned in a new map.
func (t *routeTable) match(urlPath string) (*route, map[string]string) {
	segs, ok := splitURLPath(urlPath)
	if !ok {
		return nil, nil
	}
	if r := t.exact["/"+strings.Join(segs, "/")]; r != nil {
		return r, nil
	}
	for _, r := range t.params {
		if len(r.segments) != len(segs) {
			continue
		}
		var params map[string]string
		matched := true
		for i, s := range r.segments {
			if name, isParam := paramName(s); isParam {
				if params == nil {
					params = make(map[string]string, r.params)
				}
				params[name] = segs[i]
			} else if s != segs[i] {
				matched = false
				break
			}
		}
		if matched {
			return r, params
		}
	}
	return nil, nil
}

// splitURLPath splits a (decoded) URL path into segments, ignoring a
// trailing slash. It rejects anything that could address a file outside the
// matched folder: "." and ".." segments, empty segments, backslashes, NULs.
func splitURLPath(p string) ([]string, bool) {
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	p = strings.TrimSuffix(p[1:], "/")
	if p == "" {
		return []string{}, true
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "\\\x00") {
			return nil, false
		}
	}
	return segs, true
}

func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '[' && seg[len(seg)-1] == ']' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// isHidden reports whether a file or folder name is never routed: private
// (_), layout/middleware/loader (+), disabled (-) and dot files.
func isHidden(name string) bool {
	return name == "" || strings.ContainsAny(name[:1], "_+-.") || name == "node_modules"
}

func isGroup(name string) bool {
	return len(name) > 2 && name[0] == '(' && name[len(name)-1] == ')'
}

// scanRoutes walks fsys (the pages root) and builds the route table.
// isPage tells the files a plugin renders (by default .ejs) from static
// files.
func scanRoutes(fsys fs.FS, isPage func(name string) bool) (*routeTable, error) {
	t := &routeTable{exact: map[string]*route{}}
	var all []*route
	plus := map[string]bool{} // +files in routable folders

	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // unreadable entry: skip it rather than fail every page
		}
		if p == "." {
			return nil
		}
		if isHidden(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			if strings.HasPrefix(d.Name(), "+") && d.Type().IsRegular() {
				plus[p] = true
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}

		r := &route{file: p, static: !isPage(p)}
		for _, dir := range strings.Split(path.Dir(p), "/") {
			if dir != "." && !isGroup(dir) {
				r.segments = append(r.segments, dir)
			}
		}
		base := path.Base(p)
		if !r.static {
			base = strings.TrimSuffix(base, path.Ext(base))
			if base == "index" {
				r.index = true
				base = ""
			}
		}
		if base != "" {
			r.segments = append(r.segments, base)
		}
		for _, s := range r.segments {
			if _, ok := paramName(s); ok {
				r.params++
			}
		}
		all = append(all, r)
		return nil
	})
	if err != nil {
		return nil, err
	}

	for _, r := range all {
		if !r.static {
			r.attachSpecialFiles(plus, isPage)
		}
	}

	// Deterministic precedence: non-index files first (about.ejs before
	// about/index.ejs), then by path.
	sort.Slice(all, func(i, j int) bool {
		if all[i].index != all[j].index {
			return !all[i].index
		}
		return all[i].file < all[j].file
	})

	for _, r := range all {
		if r.params == 0 {
			key := "/" + strings.Join(r.segments, "/")
			if _, taken := t.exact[key]; !taken {
				t.exact[key] = r
			}
			continue
		}
		t.params = append(t.params, r)
	}

	// A static segment beats a parameter: compare position by position.
	sort.SliceStable(t.params, func(i, j int) bool {
		a, b := t.params[i].segments, t.params[j].segments
		for k := 0; k < len(a) && k < len(b); k++ {
			_, ap := paramName(a[k])
			_, bp := paramName(b[k])
			if ap != bp {
				return !ap
			}
		}
		return false
	})

	return t, nil
}

// attachSpecialFiles records the layouts, middlewares and loaders of a page
// (PocketPages' +layout.ejs (or +layout.md, any page extension),
// +middleware.js, +load.js, +get.js, ...).
func (r *route) attachSpecialFiles(plus map[string]bool, isPage func(string) bool) {
	var folders []string // root first
	dir := path.Dir(r.file)
	for {
		folders = append([]string{dir}, folders...)
		if dir == "." {
			break
		}
		dir = path.Dir(dir)
	}
	in := func(folder, name string) string {
		if folder == "." {
			return name
		}
		return folder + "/" + name
	}
	layoutIn := func(folder string) string {
		if f := in(folder, "+layout.ejs"); plus[f] {
			return f
		}
		var found string
		for f := range plus {
			if path.Dir(f) == folder || (folder == "." && !strings.Contains(f, "/")) {
				if base := path.Base(f); strings.TrimSuffix(base, path.Ext(base)) == "+layout" && isPage(f) && (found == "" || f < found) {
					found = f
				}
			}
		}
		return found
	}
	for i := len(folders) - 1; i >= 0; i-- {
		if f := layoutIn(folders[i]); f != "" {
			r.layouts = append(r.layouts, f)
		}
	}
	for _, folder := range folders {
		if f := in(folder, "+middleware.js"); plus[f] {
			r.middlewares = append(r.middlewares, f)
		}
	}
	pageDir := folders[len(folders)-1]
	for f := range plus {
		if path.Dir(f) != pageDir && !(pageDir == "." && !strings.Contains(f, "/")) {
			continue
		}
		base := path.Base(f)
		if base == "+middleware.js" || !strings.HasSuffix(base, ".js") {
			continue
		}
		if r.loaders == nil {
			r.loaders = map[string]string{}
		}
		r.loaders[strings.TrimSuffix(strings.TrimPrefix(base, "+"), ".js")] = f
	}
}
