package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// TestRepositoryLinks checks every Markdown file of the repository (README,
// docs/, BENCHMARKS.md, RELIABILITY.md, examples) except vendored and test
// data folders.
func TestRepositoryLinks(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	fsys := os.DirFS(root)
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case p != "." && strings.HasPrefix(name, "."), name == "node_modules", name == "testdata", name == "pb_data":
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"README.md", "docs/README.md", "docs/configuration.md"} {
		if !slices.Contains(files, want) {
			t.Fatalf("%s not found among the checked files %v", want, files)
		}
	}

	problems, err := Check(fsys, files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("checked %d Markdown files", len(files))
}

func TestSlugFollowsGitHub(t *testing.T) {
	// Anchors as GitHub renders them for these headings.
	cases := map[string]string{
		"The `pb_auth` cookie session":                           "the-pb_auth-cookie-session",
		"Converting guests: upgrade, OAuth2, merge, self-delete": "converting-guests-upgrade-oauth2-merge-self-delete",
		"Config (new fields; zero value = everything on)":        "config-new-fields-zero-value--everything-on",
		"POST /api/collections/{collection}/delete-anonymous":    "post-apicollectionscollectiondelete-anonymous",
		"The limiter under a flood of 10⁶ distinct clients":      "the-limiter-under-a-flood-of-10-distinct-clients",
		"Cleanup under load (measured)":                          "cleanup-under-load-measured",
		"Coming from PocketPages":                                "coming-from-pocketpages",
		"Über straße":                                            "über-straße",
	}
	for heading, want := range cases {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestCheckFindsBrokenLinks(t *testing.T) {
	fsys := fstest.MapFS{
		"README.md": {Data: []byte(strings.Join([]string{
			"# Top",
			"",
			"[ok](docs/a.md) [ok anchor](docs/a.md#the-pb_auth-cookie) [ok dup](docs/a.md#usage-1)",
			"[self](#top) [dir](docs/) [code file](main.go) [web](https://example.com/x#y)",
			"[missing file](docs/nope.md)",
			"[missing anchor](docs/a.md#nope)",
			"[missing self anchor](#nope)",
			"[pending](docs/later.md)",
			"[absolute](/docs/a.md)",
			"[outside](../x.md)",
			"[anchor in code file](main.go#L1)",
			"",
			"```md",
			"[in a code block](docs/nope.md)",
			"```",
			"and `[in a code span](docs/nope.md)`",
		}, "\n"))},
		"docs/a.md": {Data: []byte("# A\n\n## The `pb_auth` *cookie*\n\n## Usage\n\n## Usage\n")},
		"main.go":   {Data: []byte("package main\n")},
	}
	problems, err := Check(fsys, []string{"README.md"}, Options{AllowMissing: func(f string) bool { return f == "docs/later.md" }})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Link+" @"+strconv.Itoa(p.Line))
	}
	want := []string{
		"docs/nope.md @5",
		"docs/a.md#nope @6",
		"#nope @7",
		"/docs/a.md @9",
		"../x.md @10",
		"main.go#L1 @11",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q\n%v", got, want, problems)
	}
}
