package pages_test

import (
	"net/http"
	"strings"
	"testing"
)

// A PocketPages project where it stands: no templates/ folder, pages in
// pb_hooks/pages, pb_hooks/pocketpages.pb.js requiring 'pocketpages' (in
// PocketBase's own hooks VM), and __hooks-relative requires in a page.
func TestDropInPocketPagesLayout(t *testing.T) {
	s := newServer(t, testOptions{dropIn: true, hooks: map[string]string{
		"pocketpages.pb.js":   "require('pocketpages')\nrouterAdd('GET', '/api/test/pp', (e) => e.json(200, { loaded: typeof require('pocketpages').globalApi }))\n",
		"lib/greet.js":        "module.exports = (name) => 'hello ' + name\n",
		"pages/index.ejs":     "<% const greet = require(__hooks + '/lib/greet.js') %><p><%= greet('drop-in') %></p>",
		"pages/api/chat.ejs":  "<p>chat page</p>",
		"pages/_private/x.js": "module.exports = 1",
	}})
	mustContain(t, s.do("GET", "/", ""), "<p>hello drop-in</p>")
	mustContain(t, s.do("GET", "/api/chat", ""), "chat page")
	res := s.do("GET", "/api/test/pp", "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, `"loaded":"object"`)
}

// templates/ still wins when it exists next to pb_hooks/pages.
func TestTemplatesDirWinsOverHooksPages(t *testing.T) {
	s := newServer(t, testOptions{hooks: map[string]string{"pages/index.ejs": "<p>from pb_hooks/pages</p>"}})
	res := s.do("GET", "/", "")
	mustContain(t, res, "<h1>Home</h1>")
	mustNotContain(t, res, "from pb_hooks/pages")
}

// A user's own plugin, a local module named in +config.js, runs unchanged:
// every hook of PocketPages' plugin API, in PocketPages' order, and its
// globalApi additions.
func TestLocalPluginRunsUnchanged(t *testing.T) {
	plugin := `module.exports = (config, extra) => {
  config.globalApi.shout = (s) => String(s).toUpperCase() + extra.suffix
  const seen = []
  return {
    name: 'local',
    onRequest: ({ request, response }) => { seen.length = 0; seen.push('request:' + request.method); response.header('X-Local', 'yes') },
    handles: ({ filePath }) => filePath.endsWith('.txt.tpl'),
    onExtendContextApi: ({ api, route }) => { seen.push('extend:' + route.relativePath); api.seen = seen },
    onRender: ({ content, filePath }) => {
      if (filePath.endsWith('.txt.tpl')) return 'rendered by local: ' + content.length
      seen.push('render:' + filePath.split('/').pop())
      return content.replace('%%SEEN%%', seen.join(','))
    },
    onResponse: ({ content, api }) => {
      if (!api.request.url.pathname.startsWith('/json')) return false
      api.response.json(201, { seen, content: content.trim() })
      return true
    },
  }
}
`
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"+config.js":        "module.exports = { plugins: ['pocketpages-plugin-ejs', { fn: require('./_plugins/local.js'), suffix: '!' }], debug: false }",
		"_plugins/local.js": plugin,
		"index.ejs":         "<p><%= shout('hi') %> %%SEEN%%</p>",
		"json.ejs":          "<p>for json</p>",
		"notes.txt.tpl":     "abc",
	})
	s := newServer(t, testOptions{templatesDir: dir})

	res := s.do("GET", "/", "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, "<p>HI! request:GET,extend:index.ejs,render:index.ejs</p>")
	if res.header.Get("X-Local") != "yes" {
		t.Fatalf("onRequest's response header is missing: %v", res.header)
	}

	res = s.do("GET", "/json", "")
	mustStatus(t, res, http.StatusCreated)
	mustContain(t, res, `"content":"\u003cp\u003efor json\u003c/p\u003e"`, `"seen":["request:GET","extend:json.ejs","render:json.ejs"]`)

	// handles() made a new kind of page; the ejs plugin leaves it alone
	res = s.do("GET", "/notes.txt", "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, "rendered by local: 0")
}

// Bad configuration: the server still starts, and pages answer a clear 500
// that names the file and the plugin in dev mode only.
func TestBrokenConfigAnswers500(t *testing.T) {
	cases := []struct {
		name, config, detail string
	}{
		{"config throws", "throw new Error('config exploded')", "config exploded"},
		{"unknown plugin", "module.exports = { plugins: ['pocketpages-plugin-nope'] }", `plugin pocketpages-plugin-nope: unknown plugin &#34;pocketpages-plugin-nope&#34;`},
		{"factory throws", "module.exports = { plugins: [function boom() { throw new Error('factory exploded') }] }", "plugin boom: Error: factory exploded"},
		{"invalid key", "module.exports = { plugins: [], colour: 'red' }", `invalid config key &#34;colour&#34;`},
		{"bad ejs option", "module.exports = { plugins: [{ name: 'pocketpages-plugin-ejs', extension: '.md' }] }", `plugin pocketpages-plugin-ejs: TypeError: pocketpages-plugin-ejs: invalid config key &#34;extension&#34;`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, dev := range []bool{true, false} {
				dir := t.TempDir()
				writeTree(t, dir, map[string]string{"+config.js": c.config, "index.ejs": "<p>never rendered</p>", "style.css": "body{}"})
				s := newServer(t, testOptions{templatesDir: dir, dev: dev})

				res := s.do("GET", "/", "")
				mustStatus(t, res, http.StatusInternalServerError)
				mustNotContain(t, res, "never rendered")
				if dev {
					mustContain(t, res, "+config.js", c.detail)
				} else {
					mustNotContain(t, res, c.detail, "+config.js")
				}
				// PocketBase itself is unaffected
				mustStatus(t, s.do("GET", "/api/health", ""), http.StatusOK)
			}
		})
	}
}

// A plugin hook that throws during a request fails that request only; the
// VM is reused and later requests render.
func TestThrowingPluginHookFailsOneRequest(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"+config.js": `module.exports = { plugins: ['pocketpages-plugin-ejs', () => ({
  name: 'flaky',
  onExtendContextApi: ({ api }) => { if (api.params.boom) throw new Error('hook exploded') },
})] }`,
		"index.ejs": "<p>ok <%= params.n %></p>",
	})
	s := newServer(t, testOptions{templatesDir: dir, dev: true, poolSize: 1})
	for i := 0; i < 3; i++ {
		res := s.do("GET", "/?boom=1", "")
		mustStatus(t, res, http.StatusInternalServerError)
		mustContain(t, res, "hook exploded")
		mustContain(t, s.do("GET", "/?n=2", ""), "<p>ok 2</p>")
	}
}

// The globals every PocketPages page has: stringify (circular-safe), url(),
// response.file().
func TestPocketPagesGlobals(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"index.ejs": `<%
  const a = { name: 'a', list: [1, 2] }; a.self = a
  const shared = { x: 1 }
%><pre><%- stringify(a) %>|<%- stringify({ one: shared, two: shared }) %>|<%- stringify([1], null, 0) %></pre>
<% const u = url('https://example.com:8443/p/a?x=1&y=%22s%22&z=%7B%22k%22%3A2%7D#top') %>
<p><%= u.protocol %> <%= u.hostname %> <%= u.port %> <%= u.pathname %> <%= u.query.x + 1 %> <%= u.query.y %> <%= u.query.z.k %> <%= u.hash %></p>
<% const r = url('/after?n=1'); r.query.__flash = 'saved!'; %><p><%= r.toString() %></p>`,
		"download.ejs":     "<% response.file('files/report.txt') %>ignored",
		"files/report.txt": "the report",
	})
	s := newServer(t, testOptions{templatesDir: dir})

	res := s.do("GET", "/", "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res,
		`{"name":"a","list":[1,2],"self":"[Circular]"}|{"one":{"x":1},"two":{"x":1}}|[1]`,
		"<p>https: example.com 8443 /p/a 2 s 2 #top</p>",
		"<p>/after?n=1&amp;__flash=saved%21</p>",
	)

	res = s.do("GET", "/download", "")
	mustStatus(t, res, http.StatusOK)
	if res.body != "the report" || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("response.file: %q %q", res.body, res.header.Get("Content-Type"))
	}
}

// With pocketpages-plugin-ejs' extensions, .md files are pages and
// includes, run through EJS (no Markdown plugin here: EJS output only).
func TestEJSPluginExtensions(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"+config.js":       "module.exports = { plugins: [{ name: 'pocketpages-plugin-ejs', extensions: ['.ejs', '.md'] }] }",
		"docs/intro.md":    "# Intro <%= 1 + 1 %>\n<%- include('part') %>",
		"docs/+layout.ejs": "<main><%- slot %></main>",
		"_private/part.md": "part <%= params.who %>",
		"readme.txt":       "static",
	})
	s := newServer(t, testOptions{templatesDir: dir})
	res := s.do("GET", "/docs/intro?who=me", "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, "<main># Intro 2\npart me</main>")
	mustContain(t, s.do("GET", "/readme.txt", ""), "static")
	mustStatus(t, s.do("GET", "/docs/intro.md", ""), http.StatusNotFound)
}
