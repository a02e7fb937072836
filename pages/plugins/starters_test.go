package plugins

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// starter reads a file of PocketPages' official starters (../shared, kept
// unchanged next to the repository).
func starter(t *testing.T, parts ...string) string {
	t.Helper()
	path := filepath.Join(append([]string{"..", "..", "..", "shared", "pocketpages-starters"}, parts...)...)
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skip("PocketPages' starters are not next to the repository (../shared)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// The daisyui-docs starter's Markdown page and its TOC partial, through the
// marked plugin as its +config.js sets it up.
func TestDocsStarterMarkdown(t *testing.T) {
	te := newTestEnv(t, nil)
	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-marked"})
	e, rec := te.event(http.MethodGet, "/docs/overview", "")
	p := h.newPage(e, rec, nil)

	page := p.render("/pages/(main)/docs/overview.md", starter(t, "daisyui-docs", "pb_hooks", "pages", "(main)", "docs", "overview.md"))
	if !strings.Contains(page, `<h1 id="overview">Overview</h1>`) || !strings.Contains(page, "<code>./pb_hooks/pages/(main)/docs/overview.md</code>") {
		t.Fatalf("overview.md:\n%s", page)
	}
	toc := p.render("/pages/(main)/docs/_private/toc.md", starter(t, "daisyui-docs", "pb_hooks", "pages", "(main)", "docs", "_private", "toc.md"))
	if !strings.Contains(toc, `<h1 id="getting-started">Getting Started</h1>`) || !strings.Contains(toc, `<li><a href="/docs/overview">Overview</a></li>`) {
		t.Fatalf("toc.md:\n%s", toc)
	}
}

// The datastar starter's api/chat.ejs, its server script run as the page
// would (include() and store() stand in for the engine's).
func TestDatastarStarterChat(t *testing.T) {
	src := starter(t, "datastar", "pb_hooks", "pages", "api", "chat.ejs")
	script := src[strings.Index(src, "<script server>")+len("<script server>") : strings.Index(src, "</script>")]

	te := newTestEnv(t, nil)
	sender := subscriptions.NewDefaultClient() // the browser's realtime connection
	sender.Subscribe("datastar")
	te.app.SubscriptionsBroker().Register(sender)

	h := datastarHost(t, te)
	signals := `{"clientId":"` + sender.Id() + `","roomName":"general","from":"🐱","message":"hello <script>x</script>"}`
	e, rec := te.event(http.MethodPost, "/api/chat", signals, "Content-Type: application/json", "Datastar-Request: true")
	stored := map[string]any{}
	p := h.newPage(e, rec, map[string]any{
		"store": func(name string, value any) any {
			if value != nil {
				stored[name] = value
			}
			return stored[name]
		},
		"include": func(name string, data map[string]any) string { return `<div id="chat-messages">` + name + `</div>` },
	})
	if _, err := p.run(script); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "event: datastar-patch-signals\ndata: signals {\"message\":\"\"}") {
		t.Fatalf("the message input was not cleared:\n%s", body)
	}
	if msgs, _ := stored["room_general"].([]any); len(msgs) != 1 {
		t.Fatalf("stored: %v", stored)
	}
	// The room's clients (the sender is in it now) get the new chat box.
	if sender.Get("roomName") != "general" {
		t.Fatalf("roomName not kept on the client: %v", sender.Get("roomName"))
	}
	if msg := receive(t, sender); msg.Name != "datastar" || !strings.Contains(string(msg.Data), `"type":"datastar-patch-elements"`) {
		t.Fatalf("broadcast: %s %s", msg.Name, msg.Data)
	}
}
