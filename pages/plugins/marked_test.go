package plugins

import (
	"net/http"
	"strings"
	"testing"
)

func TestMarkedRendersMarkdownAfterEJS(t *testing.T) {
	te := newTestEnv(t, nil)
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-marked"})
	e, rec := te.event(http.MethodGet, "/docs/overview", "")
	p := h.newPage(e, rec, nil)

	// What the EJS step hands over for a .md page (front matter first).
	md := "---\ntitle: Overview\ntags: [a, b]\norder: 2\n---\n" +
		"# Getting Started\n\nEdit `overview.md`, see [Overview](/docs/overview).\n\n" +
		"## Getting Started\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n- [x] done\n\n" +
		"![logo](img/logo.png \"The logo\") ![remote](https://example.com/x.png)\n\n<div class=\"note\">raw html</div>\n"
	out := p.render("/pages/(main)/docs/overview.md", md)

	for _, part := range []string{
		`<h1 id="getting-started">Getting Started</h1>`,
		`<h2 id="getting-started-1">Getting Started</h2>`, // ids stay unique
		`<code>overview.md</code>`,
		`<a href="/docs/overview">Overview</a>`,
		`<table>`, `<del>2</del>`, `<input checked="" disabled="" type="checkbox"`,
		`<img src="/fp/img/logo.png" alt="logo" title="The logo">`, // through asset()
		`<img src="https://example.com/x.png" alt="remote">`,       // absolute: as is
		`<div class="note">raw html</div>`,
	} {
		if !strings.Contains(out, part) {
			t.Fatalf("missing %s in\n%s", part, out)
		}
	}
	if strings.Contains(out, "title: Overview") {
		t.Fatalf("front matter rendered:\n%s", out)
	}
	if got := p.mustRun(`return JSON.stringify([meta('title'), meta('tags'), meta('order')])`).String(); got != `["Overview",["a","b"],2]` {
		t.Fatalf("meta: %s", got)
	}

	// Files it does not handle pass through untouched (EJS output, layouts).
	if got := p.render("/pages/+layout.ejs", "# not markdown"); got != "# not markdown" {
		t.Fatalf("an .ejs file was converted: %q", got)
	}
	// An include of a .md partial (the docs starter's toc.md) is converted too.
	if got := p.render("/pages/(main)/docs/_private/toc.md", "# Getting Started\n\n- [Overview](/docs/overview)\n"); !strings.Contains(got, `<li><a href="/docs/overview">Overview</a></li>`) {
		t.Fatalf("toc: %q", got)
	}
}

func TestMarkedExtensionsOption(t *testing.T) {
	te := newTestEnv(t, nil)
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-marked", extra: map[string]any{"extensions": []string{".markdown"}}})
	e, rec := te.event(http.MethodGet, "/", "")
	p := h.newPage(e, rec, nil)
	if got := p.render("/pages/a.md", "# A"); got != "# A" {
		t.Fatalf(".md converted although extensions is ['.markdown']: %q", got)
	}
	if got := p.render("/pages/a.markdown", "# A"); got != "<h1 id=\"a\">A</h1>\n" {
		t.Fatalf("got %q", got)
	}
	h.vm.Set("host", h.host)
	if got, err := h.vm.RunString(`JSON.stringify(['/x/y.markdown', '/x/y.md'].map((f) => host.plugins[0].handles({ filePath: f })))`); err != nil || got.String() != "[true,false]" {
		t.Fatalf("handles: %v %v", got, err)
	}
}
