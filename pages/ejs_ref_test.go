package pages

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// refData is the locals every reference template is rendered with.
const refData = `{
	"title": "<b>Tom & \"Jerry\"</b> 'x'",
	"html": "<i>raw</i>",
	"items": ["a<", "b&", 3],
	"n": 0,
	"nul": null,
	"obj": {"a": 1, "b": "<x>"}
}`

// TestEJSMatchesReference renders testdata/ejs with the npm "ejs" package
// and with our compiler and requires byte-identical output (and an error
// wherever ejs fails).
func TestEJSMatchesReference(t *testing.T) {
	refDir, _ := filepath.Abs("testdata/ejsref")
	root, _ := filepath.Abs("testdata/ejs")

	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are required for the EJS reference test in CI (node: %v, npm: %v)", nodeErr, npmErr)
		}
		t.Skipf("SKIPPED: node/npm not installed, cannot compare against the npm ejs reference (node: %v, npm: %v)", nodeErr, npmErr)
	}
	if _, err := os.Stat(filepath.Join(refDir, "node_modules", "ejs")); err != nil {
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = refDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s failed: %v\n%s", refDir, err, out)
		}
	}

	var names []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if !d.IsDir() && strings.HasSuffix(p, ".ejs") && !strings.Contains(rel, "_private/") && !strings.HasPrefix(rel, "shared/") {
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	if len(names) < 8 {
		t.Fatalf("expected the reference template set, found %v", names)
	}

	cmd := exec.Command(node, append([]string{"render.js", root, refData}, names...)...)
	cmd.Dir = refDir
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node render.js: %v", err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("bad reference output: %v\n%s", err, raw)
	}

	osRoot, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer osRoot.Close()
	rt := goja.New()
	r := newRunner(rt, newSourceCache(osRoot))

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			locals, err := rt.RunString("(" + refData + ")")
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.renderTemplate(name, locals.ToObject(rt))

			switch w := want[name].(type) {
			case string:
				if err != nil {
					t.Fatalf("ejs rendered it, we failed: %v", err)
				}
				if got != w {
					t.Fatalf("output differs from npm ejs\n--- ejs:\n%q\n--- ours:\n%q", w, got)
				}
			case map[string]any:
				if err == nil {
					t.Fatalf("ejs failed with %v, we rendered %q", w["error"], got)
				}
				if msg, _ := w["error"].(string); !strings.Contains(err.Error(), firstLine(msg)) {
					t.Fatalf("error differs\n ejs: %s\nours: %v", msg, err)
				}
			default:
				t.Fatalf("no reference result for %s", name)
			}
		})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
