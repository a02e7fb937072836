package pages

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// asset(path) returns the URL of a static file with a content fingerprint
// in its name, as PocketPages does ("css/site.css" → "/css/site.3f2a9c01d4e5.css").
// Such URLs are served with a one-year immutable cache header: the URL
// changes whenever the content does. A relative path is relative to the
// page's folder, "/x" to the templates root. Unknown files come back as
// they were given.

const fingerprintLen = 12

var fingerprintRe = regexp.MustCompile(`^(.+)\.([0-9a-f]{12})(\.[^./]+)?$`)

// immutableCache is the Cache-Control of fingerprinted URLs.
const immutableCache = "public, max-age=31536000, immutable"

type fingerprints struct {
	mu      sync.Mutex
	entries map[string]fingerprintEntry
}

type fingerprintEntry struct {
	modTime time.Time
	size    int64
	sum     string
}

// of returns the fingerprint of the static file name ("" if unreadable).
func (f *fingerprints) of(src *sourceCache, name string) string {
	info, err := src.root.Stat(name)
	if err != nil || !info.Mode().IsRegular() {
		return ""
	}
	f.mu.Lock()
	e, ok := f.entries[name]
	f.mu.Unlock()
	if ok && e.modTime.Equal(info.ModTime()) && e.size == info.Size() {
		return e.sum
	}
	file, err := src.root.Open(name)
	if err != nil {
		return ""
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return ""
	}
	sum := hex.EncodeToString(h.Sum(nil))[:fingerprintLen]
	f.mu.Lock()
	if f.entries == nil {
		f.entries = map[string]fingerprintEntry{}
	}
	f.entries[name] = fingerprintEntry{modTime: info.ModTime(), size: info.Size(), sum: sum}
	f.mu.Unlock()
	return sum
}

// withFingerprint inserts sum before the extension of the last segment.
func withFingerprint(p, sum string) string {
	dir, base := path.Split(p)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return dir + base[:i] + "." + sum + base[i:]
	}
	return dir + base + "." + sum
}

// splitFingerprint undoes withFingerprint on a URL path.
func splitFingerprint(p string) (plain, sum string, ok bool) {
	dir, base := path.Split(p)
	m := fingerprintRe.FindStringSubmatch(base)
	if m == nil {
		return "", "", false
	}
	return dir + m[1] + m[3], m[2], true
}

// urlOfFile is the URL of a routable file: its path without group folders.
func urlOfFile(name string) string {
	var segs []string
	for _, s := range strings.Split(name, "/") {
		if !isGroup(s) {
			segs = append(segs, s)
		}
	}
	return "/" + strings.Join(segs, "/")
}

// jsAsset is asset(path).
func (v *pageVM) jsAsset(call goja.FunctionCall) goja.Value {
	st := v.current("asset")
	ref := call.Argument(0).String()
	name := ref
	if !strings.HasPrefix(ref, "/") {
		name = path.Join(path.Dir(st.route.file), ref)
	}
	clean, ok := cleanName(name)
	if !ok {
		return v.rt.ToValue(ref)
	}
	for _, seg := range strings.Split(clean, "/") {
		if isHidden(seg) {
			return v.rt.ToValue(ref) // never served: no fingerprint
		}
	}
	sum := v.pg.fingerprints.of(v.src, clean)
	if sum == "" {
		return v.rt.ToValue(ref)
	}
	return v.rt.ToValue(withFingerprint(urlOfFile(clean), sum))
}
