package pages

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// sourceCache compiles templates and page modules on first use and keeps the
// compiled programs, which goja lets every VM share. An entry is reused while
// the file's modification time and size are unchanged, so editing a template
// takes effect on the next request without a restart; one stat per use is the
// whole cost.
//
// Files are read through an os.Root: a name that would leave the templates
// directory (.., absolute paths, symlinks pointing outside) fails to open.
type sourceCache struct {
	root *os.Root

	mu      sync.RWMutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	modTime time.Time
	size    int64
	c       *compiled
	err     error // compile errors are cached too, until the file changes
}

// errNotFound is returned for names that do not exist (or are not files).
var errNotFound = errors.New("not found")

func newSourceCache(root *os.Root) *sourceCache {
	return &sourceCache{root: root, entries: map[string]*cacheEntry{}}
}

// cleanName normalizes a slash-separated name relative to the root and
// reports false if it is not a plain relative path inside it.
func cleanName(name string) (string, bool) {
	if name == "" || strings.ContainsAny(name, "\\\x00") {
		return "", false
	}
	name = strings.TrimPrefix(name, "/")
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", false
		}
	}
	name = path.Clean(name)
	if name == "." || !fs.ValidPath(name) {
		return "", false
	}
	return name, true
}

// exists reports whether name is a regular file in the root.
func (sc *sourceCache) exists(name string) bool {
	info, err := sc.root.Stat(name)
	return err == nil && info.Mode().IsRegular()
}

// get returns the compiled form of name (relative to the root), compiling it
// if it is new or changed. compile turns the file's text into a program.
func (sc *sourceCache) get(name string, compile func(name, text string) (*compiled, error)) (*compiled, error) {
	info, err := sc.root.Stat(name)
	if err != nil || !info.Mode().IsRegular() {
		return nil, errNotFound
	}

	sc.mu.RLock()
	entry := sc.entries[name]
	sc.mu.RUnlock()
	if entry != nil && entry.modTime.Equal(info.ModTime()) && entry.size == info.Size() {
		return entry.c, entry.err
	}

	// Two requests may compile the same changed file at once; both results
	// are equal, so the duplicate work is cheaper than a per-file lock.
	raw, err := sc.root.ReadFile(name)
	if err != nil {
		return nil, errNotFound
	}
	entry = &cacheEntry{modTime: info.ModTime(), size: info.Size()}
	entry.c, entry.err = compile(name, string(raw))

	sc.mu.Lock()
	sc.entries[name] = entry
	sc.mu.Unlock()

	return entry.c, entry.err
}

// template returns the compiled EJS template name.
func (sc *sourceCache) template(name string) (*compiled, error) {
	return sc.get(name, compileTemplate)
}

// module returns the compiled CommonJS-style module name (.js or .json).
func (sc *sourceCache) module(name string) (*compiled, error) {
	return sc.get(name, compileModule)
}

// moduleParams are the parameters of a compiled page module function.
const moduleParams = "module, exports, require, api"

// compileModule wraps a .js file as a CommonJS function (on the file's first
// line, so line numbers stay those of the file) and a .json file as a module
// exporting its value.
func compileModule(name, text string) (*compiled, error) {
	if strings.HasSuffix(name, ".json") {
		text = "module.exports = " + text
	}
	return compileJS(name, "(function ("+moduleParams+") {"+text+"\n})", nil)
}

// lookup returns the cached program compiled under name (a goja source
// name), to map positions in stack traces; nil if there is none.
func (sc *sourceCache) lookup(name string) *compiled {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	if e := sc.entries[name]; e != nil {
		return e.c
	}
	return nil
}
