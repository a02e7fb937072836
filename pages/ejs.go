package pages

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// This file is a Go port of the template compiler of the npm "ejs" package
// (3.1.x, the version PocketPages forks), so that a template renders to the
// same bytes here as it does there (ejs_ref_test.go proves it against the real
// package). Porting instead of running ejs.js inside goja matters for speed:
// the template becomes JS source once, is compiled once to a goja.Program and
// is shared by every VM; ejs.js would re-parse on every VM and, as PocketPages
// does, often on every request.
//
// Differences from ejs, all invisible in the output:
//   - the output is collected in an array and joined once (ejs concatenates a
//     string, which is quadratic in goja);
//   - no __line bookkeeping at run time: we keep a map from generated source
//     lines to template lines and translate positions only when something
//     fails;
//   - `<script server>` blocks (a PocketPages extension) are rewritten to
//     `<% %>` before parsing.

// ejsTokenAlternatives is ejs' _REGEX_STRING with the default delimiters,
// in the same order: at a given position the first alternative that matches
// wins, exactly like the JS regexp alternation.
var ejsTokenAlternatives = []string{"<%%", "%%>", "<%=", "<%-", "<%_", "<%#", "<%", "%>", "-%>", "_%>"}

var (
	scriptServerRe = regexp.MustCompile(`(?i)<script\s+server\s*>([\s\S]*?)</script\s*>`)
	slurpBeforeRe  = regexp.MustCompile(`[ \t]*<%_`)
	slurpAfterRe   = regexp.MustCompile(`_%>[ \t]*`)
)

type ejsMode int

const (
	modeText ejsMode = iota
	modeEval
	modeEscaped
	modeRaw
	modeComment
	modeLiteral
)

// templateParams are the parameters of every compiled template function:
// the locals object (used with `with`, as ejs does), the escape function,
// include() for this template, and a callback receiving the template's own
// __append so that echo() can write at the current position.
const templateParams = "locals, __esc, include, __reg"

// compiledSource is the result of translating a template to JS.
type compiledSource struct {
	code string
	// lines maps a 1-based line of code to its 1-based template line.
	lines []int
}

// translateEJS turns template text into the source of a JS function
// expression taking templateParams and returning the rendered string.
// name is only used in error messages.
func translateEJS(name, text string) (*compiledSource, error) {
	text = scriptServerRe.ReplaceAllString(text, "<%$1%>")
	text = slurpBeforeRe.ReplaceAllString(text, "<%_")
	text = slurpAfterRe.ReplaceAllString(text, "_%>")

	tokens := tokenizeEJS(text)

	g := &ejsGen{tplLine: 1, genLine: 1}
	g.emitRaw("(function (" + templateParams + ") {" +
		" var __out = []; function __append(s) { if (s !== undefined && s !== null) __out.push(\"\" + s) }" +
		" __reg(__append);\n")
	g.emitRaw("with (locals || {}) {\n")

	for i, tok := range tokens {
		if strings.HasPrefix(tok, "<%") && !strings.HasPrefix(tok, "<%%") {
			closing := ""
			if i+2 < len(tokens) {
				closing = tokens[i+2]
			}
			if closing != "%>" && closing != "-%>" && closing != "_%>" {
				return nil, &TemplateError{File: name, Line: g.tplLine, Message: fmt.Sprintf("Could not find matching close tag for %q.", tok)}
			}
		}
		g.scan(tok)
	}

	g.emitRaw("}\nreturn __out.join(\"\") })")
	for len(g.lines) < g.genLine {
		g.lines = append(g.lines, g.tplLine)
	}

	return &compiledSource{code: g.src.String(), lines: g.lines}, nil
}

// tokenizeEJS splits text the way ejs' parseTemplateText does: delimiters and
// the text between them, in order.
func tokenizeEJS(text string) []string {
	var tokens []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '<' && c != '%' && c != '-' && c != '_' {
			continue
		}
		for _, alt := range ejsTokenAlternatives {
			if strings.HasPrefix(text[i:], alt) {
				if i > start {
					tokens = append(tokens, text[start:i])
				}
				tokens = append(tokens, alt)
				i += len(alt) - 1
				start = i + 1
				break
			}
		}
	}
	if start < len(text) {
		tokens = append(tokens, text[start:])
	}
	return tokens
}

type ejsGen struct {
	src      strings.Builder
	lines    []int // generated line (index+1) -> template line
	genLine  int   // current generated line, 1-based
	mode     ejsMode
	truncate bool
	tplLine  int
}

// write appends generated code. If verbatim, the code was copied from the
// template starting at the current template line, so each newline in it is
// a newline of the template too; otherwise all of it is attributed to the
// current template line.
func (g *ejsGen) write(code string, verbatim bool) {
	line := g.tplLine
	for i := 0; i < len(code); i++ {
		if len(g.lines) < g.genLine {
			g.lines = append(g.lines, line)
		}
		if code[i] == '\n' {
			g.genLine++
			if verbatim {
				line++
			}
		}
	}
	g.src.WriteString(code)
}

func (g *ejsGen) emitRaw(code string) { g.write(code, false) }

func (g *ejsGen) statement(prefix, code, suffix string) {
	g.write(prefix, false)
	g.write(code, true)
	g.write(suffix+"\n", false)
}

// scan is ejs' Template.scanLine.
func (g *ejsGen) scan(tok string) {
	switch tok {
	case "<%", "<%_":
		g.mode = modeEval
	case "<%=":
		g.mode = modeEscaped
	case "<%-":
		g.mode = modeRaw
	case "<%#":
		g.mode = modeComment
	case "<%%":
		g.mode = modeLiteral
		g.emitRaw(`    ; __append("<%")` + "\n")
	case "%%>":
		g.mode = modeLiteral
		g.emitRaw(`    ; __append("%>")` + "\n")
	case "%>", "-%>", "_%>":
		if g.mode == modeLiteral {
			g.addOutput(tok)
		}
		g.mode = modeText
		g.truncate = tok[0] == '-' || tok[0] == '_'
	default:
		switch g.mode {
		case modeEval, modeEscaped, modeRaw:
			if strings.LastIndex(tok, "//") > strings.LastIndex(tok, "\n") {
				tok += "\n"
			}
		}
		switch g.mode {
		case modeEval:
			g.statement("    ; ", tok, "")
		case modeEscaped:
			g.statement("    ; __append(__esc(", stripSemi(tok), "))")
		case modeRaw:
			g.statement("    ; __append(", stripSemi(tok), ")")
		case modeComment:
		case modeLiteral, modeText:
			g.addOutput(tok)
		}
	}
	g.tplLine += strings.Count(tok, "\n")
}

// addOutput is ejs' _addOutput: a text chunk becomes one __append of a
// string literal.
func (g *ejsGen) addOutput(line string) {
	if g.truncate {
		switch {
		case strings.HasPrefix(line, "\r\n"):
			line = line[2:]
		case strings.HasPrefix(line, "\n"), strings.HasPrefix(line, "\r"):
			line = line[1:]
		}
		g.truncate = false
	}
	if line == "" {
		return
	}
	g.emitRaw(`    ; __append(` + jsStringLiteral(line) + ")\n")
}

// jsStringLiteral quotes s as a double-quoted JS string literal on one line.
func jsStringLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\u2028':
			b.WriteString(`\u2028`)
		case '\u2029':
			b.WriteString(`\u2029`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// stripSemi is ejs' stripSemi: str.replace(/;(\s*$)/, '$1').
func stripSemi(s string) string {
	trimmed := strings.TrimRightFunc(s, isJSSpace)
	if strings.HasSuffix(trimmed, ";") {
		return trimmed[:len(trimmed)-1] + s[len(trimmed):]
	}
	return s
}

func isJSSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF'
}

// compileTemplate translates and compiles a template. name should be the
// path relative to the templates root: it is what errors show.
func compileTemplate(name, text string) (*compiled, error) {
	src, err := translateEJS(name, text)
	if err != nil {
		return nil, err
	}
	return compileJS(name, src.code, src.lines)
}

// compileJS compiles generated or module source. It parses first itself
// because goja.Compile drops the position of parse errors.
func compileJS(name, code string, lines []int) (*compiled, error) {
	c := &compiled{name: name, lines: lines}
	ast, err := parser.ParseFile(nil, name, code, 0)
	if err != nil {
		msg, line := err.Error(), 0
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			msg, line = list[0].Message, list[0].Position.Line
		}
		if line > 0 {
			line = c.sourceLine(line)
		}
		return nil, &TemplateError{File: name, Line: line, Message: "SyntaxError: " + msg, cause: err}
	}
	prg, err := goja.CompileAST(ast, false)
	if err != nil {
		msg, line := err.Error(), 0
		var se *goja.CompilerSyntaxError
		if errors.As(err, &se) {
			msg = se.Message
			if se.File != nil {
				line = c.sourceLine(se.File.Position(se.Offset).Line)
			}
		}
		return nil, &TemplateError{File: name, Line: line, Message: "SyntaxError: " + msg, cause: err}
	}
	c.program = prg
	return c, nil
}

// compiled is a template or module ready to run in any VM.
type compiled struct {
	name    string
	program *goja.Program // evaluates to the template (or module) function
	lines   []int         // generated line -> source line; nil means identity
}

// sourceLine maps a line of the generated code to a line of the file.
func (c *compiled) sourceLine(genLine int) int {
	if c.lines == nil || genLine < 1 {
		return genLine
	}
	if genLine > len(c.lines) {
		return c.lines[len(c.lines)-1]
	}
	return c.lines[genLine-1]
}

// TemplateError is a compile or run-time error in a template, a page module
// or an include, located in its source file.
type TemplateError struct {
	File    string // path relative to the templates root
	Line    int    // 1-based, 0 if unknown
	Message string
	Stack   string // JS stack, if any (shown in dev mode only)
	Status  int    // HTTP status carried by the thrown error, 0 if none

	cause error
}

func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Message
	}
	return e.File + ": " + e.Message
}

func (e *TemplateError) Unwrap() error { return e.cause }
