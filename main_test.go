package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/spf13/pflag"

	"github.com/pocketguest/pocketguest/anonauth"
)

// testApp builds the binary's app as main does, with no POCKETGUEST_*
// variable set, on directories of its own (registering the JS runtime reads
// pb_hooks and pb_migrations).
func testApp(t *testing.T) (*pocketbase.PocketBase, *anonauth.Plugin) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "POCKETGUEST_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	dir := t.TempDir()
	return newApp([]string{
		"--hooksDir", filepath.Join(dir, "pb_hooks"),
		"--hooksWatch=false",
		"--migrationsDir", filepath.Join(dir, "pb_migrations"),
		"--templatesDir", filepath.Join(dir, "templates"),
	})
}

// TestFlaglessBinaryEqualsZeroConfig: the binary without flags configures
// anonauth exactly as MustRegister(app, Config{}) does, so "the zero value
// is the default" holds for Go users and operators alike.
func TestFlaglessBinaryEqualsZeroConfig(t *testing.T) {
	_, guests := testApp(t)

	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	zero, err := anonauth.Register(app, anonauth.Config{})
	if err != nil {
		t.Fatal(err)
	}

	got, want := guests.Config(), zero.Config()
	if len(got.TrustedOrigins) == 0 && len(want.TrustedOrigins) == 0 {
		got.TrustedOrigins, want.TrustedOrigins = nil, nil // empty flag list vs nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flag defaults give\n%+v\nthe zero Config gives\n%+v", got, want)
	}
}

// proseDefaults are defaults docs/configuration.md states in words because
// they depend on how the binary runs; everything else must be a code span
// equal to the flag's real default.
var proseDefaults = map[string]string{
	"automigrate": "on under `go run`, otherwise off",
}

// TestConfigurationDocMatchesFlags parses the flag table of
// docs/configuration.md and compares it with the binary's flags: every flag
// PocketGuest adds to PocketBase's is listed, and each listed default is
// the flag's real default.
func TestConfigurationDocMatchesFlags(t *testing.T) {
	app, _ := testApp(t)
	flags := app.RootCmd.PersistentFlags()

	documented := parseFlagTable(t, filepath.Join("docs", "configuration.md"))
	if len(documented) < 10 {
		t.Fatalf("found only %d flag rows in docs/configuration.md; did the table format change?", len(documented))
	}

	// Flags PocketGuest adds = the binary's flags minus stock PocketBase's.
	stock := map[string]bool{}
	pocketbase.New().RootCmd.PersistentFlags().VisitAll(func(f *pflag.Flag) { stock[f.Name] = true })
	var undocumented []string
	flags.VisitAll(func(f *pflag.Flag) {
		if _, ok := documented[f.Name]; !ok && !stock[f.Name] {
			undocumented = append(undocumented, "--"+f.Name)
		}
	})
	if len(undocumented) > 0 {
		t.Errorf("flags missing from the table in docs/configuration.md: %v", undocumented)
	}

	names := make([]string, 0, len(documented))
	for name := range documented {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		doc := documented[name]
		f := flags.Lookup(name)
		if f == nil {
			t.Errorf("docs/configuration.md lists --%s, which the binary does not have", name)
			continue
		}
		if prose, ok := proseDefaults[name]; ok {
			if doc != prose {
				t.Errorf("--%s: documented default %q, expected the wording %q", name, doc, prose)
			}
			continue
		}
		if !sameDefault(f, doc) {
			t.Errorf("--%s: docs/configuration.md says the default is %q, the flag's is %q", name, doc, f.DefValue)
		}
	}
}

// sameDefault compares a documented default (a code span's content, or ""
// for an empty cell) with a flag's default in the flag's own type.
func sameDefault(f *pflag.Flag, doc string) bool {
	switch f.Value.Type() {
	case "duration":
		want, err := time.ParseDuration(doc)
		return err == nil && f.DefValue == want.String()
	case "stringSlice":
		return strings.Trim(f.DefValue, "[]") == doc
	case "string":
		// A directory next to pb_data is what the plugin picks when the
		// flag is empty (the data dir is only known at run time).
		if f.DefValue == "" && strings.HasPrefix(doc, "pb_data/../") {
			return true
		}
	}
	return f.DefValue == doc
}

var (
	flagCell = regexp.MustCompile("^`--([A-Za-z]+)`$")
	codeCell = regexp.MustCompile("^`([^`]*)`$")
)

// parseFlagTable returns flag name → default cell of every table row whose
// first cell is a single `--flag` (a code span's content, the empty string
// for an empty cell, or the cell's text when it is prose).
func parseFlagTable(t *testing.T, path string) map[string]string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	rows := map[string]string{}
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header = cells
			continue
		}
		m := flagCell.FindStringSubmatch(cells[0])
		if m == nil {
			continue
		}
		col := slices.Index(header, "default")
		if col < 0 || col >= len(cells) {
			t.Fatalf("%s: the table of --%s has no default column", path, m[1])
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("%s: --%s is listed twice", path, m[1])
		}
		def := cells[col]
		if c := codeCell.FindStringSubmatch(def); c != nil {
			def = c[1]
		}
		rows[m[1]] = def
	}
	return rows
}

func TestVersionFormat(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/pocketguest/pocketguest", Version: "v1.2.0"},
		Deps:      []*debug.Module{{Path: "github.com/pocketbase/pocketbase", Version: "v0.39.11"}},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "darwin"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "84b2fe0c0ffee"}, {Key: "vcs.time", Value: "2026-11-29T17:02:42Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	want := "pocketguest v1.2.0\n" +
		"PocketBase v0.39.11\n" +
		"commit 84b2fe0c0ffee (2026-11-29T17:02:42Z) with uncommitted changes\n" +
		"go1.26.0 darwin/arm64\n"
	if got := formatVersion(info); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	info.Main.Version = "(devel)"
	info.Settings = info.Settings[:2]
	info.Deps[0].Replace = &debug.Module{Path: "../pocketbase", Version: ""}
	want = "pocketguest (devel)\n" +
		"PocketBase v0.39.11 (replaced by ../pocketbase)\n" +
		"commit unknown (built without VCS information)\n" +
		"go1.26.0 darwin/arm64\n"
	if got := formatVersion(info); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestVersionFlag runs `pocketguest --version` on the real command tree; the
// PocketBase version must be the one go.mod requires.
func TestVersionFlag(t *testing.T) {
	app, _ := testApp(t)
	var out strings.Builder
	app.RootCmd.SetOut(&out)
	app.RootCmd.SetArgs([]string{"--version"})
	if err := app.RootCmd.Execute(); err != nil {
		t.Fatal(err)
	}

	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/pocketbase/pocketbase (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/pocketbase/pocketbase")
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "pocketguest ") ||
		lines[1] != "PocketBase "+string(m[1]) || !strings.HasPrefix(lines[2], "commit ") ||
		!strings.HasPrefix(lines[3], "go1.") {
		t.Errorf("--version printed:\n%s", out.String())
	}
}
