package plugins

import (
	"bytes"
	"strings"

	"github.com/dop251/goja"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"go.abhg.dev/goldmark/frontmatter"
)

// The Go side of pocketpages-plugin-marked (js/marked.js): Markdown to HTML
// with goldmark, configured like marked's defaults in PocketPages:
// GitHub Flavored Markdown (tables, strikethrough, autolinks, task lists),
// an id on every heading, YAML (or TOML) front matter, and raw HTML kept —
// a .md page is the site author's text, already through EJS, where user
// data is escaped by <%= %>; marked keeps raw HTML too.

// markdownConverter is shared by every VM: a goldmark.Markdown holds no
// per-document state (that lives in the parser.Context).
var markdownConverter = goldmark.New(
	goldmark.WithExtensions(extension.GFM, &frontmatter.Extender{}),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
	goldmark.WithRendererOptions(html.WithUnsafe()),
)

// markdown is natives.markdown(source, asset?) → {html, frontMatter}.
// asset(href), when given, rewrites each image's URL (the page's asset()
// helper, which adds the cache-busting fingerprint); absolute URLs are left
// as they are.
func (n *natives) markdown(source string, asset goja.Value) *goja.Object {
	assetFn, hasAsset := goja.AssertFunction(asset)

	src := []byte(source)
	ctx := parser.NewContext()
	doc := markdownConverter.Parser().Parse(text.NewReader(src), parser.WithContext(ctx))

	if hasAsset {
		err := ast.Walk(doc, func(node ast.Node, entering bool) (ast.WalkStatus, error) {
			img, ok := node.(*ast.Image)
			if !entering || !ok || isAbsoluteURL(string(img.Destination)) {
				return ast.WalkContinue, nil
			}
			res, err := assetFn(goja.Undefined(), n.vm.ToValue(string(img.Destination)))
			if err != nil {
				return ast.WalkStop, err
			}
			img.Destination = []byte(res.String())
			return ast.WalkContinue, nil
		})
		if err != nil {
			panic(err) // asset()'s own exception
		}
	}

	var out bytes.Buffer
	if err := markdownConverter.Renderer().Render(&out, src, doc); err != nil {
		n.throwError(err)
	}

	meta := map[string]any{}
	if fm := frontmatter.Get(ctx); fm != nil {
		if err := fm.Decode(&meta); err != nil {
			n.throwError(err)
		}
	}

	result := n.vm.NewObject()
	result.Set("html", out.String())
	result.Set("frontMatter", meta)
	return result
}

// isAbsoluteURL reports whether href points elsewhere than this site's
// files (scheme, protocol-relative or data URL).
func isAbsoluteURL(href string) bool {
	return strings.Contains(href, "://") || strings.HasPrefix(href, "//") || strings.HasPrefix(href, "data:")
}
