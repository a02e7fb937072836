// Package doccheck keeps the relative links of Markdown files valid: every
// linked file exists, and every #anchor names a heading of the target file
// under GitHub's heading-id rules (so the links work where people read the
// docs: on GitHub).
//
// It exists for its test, which checks README.md, docs/ and every other
// Markdown file of the repository:
//
//	go test ./internal/doccheck
//
// Links with a scheme (https:, mailto:) are not followed: the check is about
// the repository's own structure, and must not depend on the network.
package doccheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Problem is one broken link.
type Problem struct {
	File   string // the Markdown file holding the link, slash-separated, relative to the checked root
	Line   int    // 1-based line of the link
	Link   string // the link destination as written
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Link, p.Reason)
}

// Options tune Check.
type Options struct {
	// AllowMissing reports whether a link to a file that does not exist is
	// acceptable (e.g. a document another branch is adding). A file that does
	// exist is always checked in full, anchors included.
	AllowMissing func(file string) bool
}

// Check reads the Markdown files (slash-separated paths in fsys) and returns
// every link among them that does not resolve, in file order.
func Check(fsys fs.FS, files []string, opts Options) ([]Problem, error) {
	c := &checker{fsys: fsys, opts: opts, anchors: map[string]map[string]bool{}}
	var problems []Problem
	for _, file := range files {
		links, err := c.links(file)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if reason := c.resolve(file, l.dest); reason != "" {
				problems = append(problems, Problem{File: file, Line: l.line, Link: l.dest, Reason: reason})
			}
		}
	}
	return problems, nil
}

type checker struct {
	fsys    fs.FS
	opts    Options
	anchors map[string]map[string]bool // file → heading ids, parsed once
}

type link struct {
	dest string
	line int
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

func (c *checker) parse(file string) (ast.Node, []byte, error) {
	src, err := fs.ReadFile(c.fsys, file)
	if err != nil {
		return nil, nil, err
	}
	return markdown.Parser().Parse(text.NewReader(src)), src, nil
}

// links lists the links and images of a file that point into the repository.
func (c *checker) links(file string) ([]link, error) {
	doc, src, err := c.parse(file)
	if err != nil {
		return nil, err
	}
	var out []link
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest []byte
		switch n := n.(type) {
		case *ast.Link:
			dest = n.Destination
		case *ast.Image:
			dest = n.Destination
		default:
			return ast.WalkContinue, nil
		}
		out = append(out, link{dest: string(dest), line: lineOf(src, n.Pos())})
		return ast.WalkContinue, nil
	})
	return out, err
}

func lineOf(src []byte, offset int) int {
	if offset < 0 || offset > len(src) {
		return 0
	}
	return bytes.Count(src[:offset], []byte("\n")) + 1
}

// resolve returns why dest, written in file, does not resolve ("" if it does).
func (c *checker) resolve(file, dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		return "not a valid URL: " + err.Error()
	}
	if u.Scheme != "" || u.Host != "" {
		return "" // external: not followed
	}
	if strings.HasPrefix(u.Path, "/") {
		return "absolute path: use a path relative to the file"
	}
	target := file
	if u.Path != "" {
		target = path.Join(path.Dir(file), u.Path)
		if target == ".." || strings.HasPrefix(target, "../") {
			return "points outside the repository"
		}
	}
	info, err := fs.Stat(c.fsys, target)
	if err != nil {
		if c.opts.AllowMissing != nil && c.opts.AllowMissing(target) {
			return ""
		}
		return fmt.Sprintf("%s does not exist", target)
	}
	if u.Fragment == "" {
		return ""
	}
	if info.IsDir() || path.Ext(target) != ".md" {
		return fmt.Sprintf("#%s: anchors are only checked in Markdown files, and %s is not one", u.Fragment, target)
	}
	ids, err := c.headingIDs(target)
	if err != nil {
		return err.Error()
	}
	if !ids[u.Fragment] {
		return fmt.Sprintf("%s has no heading with the anchor #%s", target, u.Fragment)
	}
	return ""
}

func (c *checker) headingIDs(file string) (map[string]bool, error) {
	if ids, ok := c.anchors[file]; ok {
		return ids, nil
	}
	doc, src, err := c.parse(file)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	seen := map[string]int{}
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			ids[uniqueSlug(Slug(plainText(h, src)), seen)] = true
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	c.anchors[file] = ids
	return ids, err
}

// plainText is a heading's text as rendered: code spans keep their content,
// emphasis and link markup go.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Text:
			b.Write(n.Segment.Value(src))
		case *ast.String:
			b.Write(n.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// Slug is GitHub's anchor for a heading text: lower case, every character
// that is not a letter, digit, mark, space, hyphen or underscore dropped,
// every space turned into a hyphen (not collapsed: "a = b" → "a--b").
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// uniqueSlug numbers repeated headings as GitHub does: x, x-1, x-2, ...
func uniqueSlug(slug string, seen map[string]int) string {
	n, dup := seen[slug]
	seen[slug] = n + 1
	if !dup {
		return slug
	}
	return fmt.Sprintf("%s-%d", slug, n)
}
