package plugins

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tools/subscriptions"
	"github.com/starfederation/datastar-go/datastar"
)

func datastarHost(t *testing.T, te *testEnv) *testHost {
	return newTestHost(t, te.Env,
		pluginItem{name: "pocketpages-plugin-datastar"},
		pluginItem{name: "pocketpages-plugin-realtime"},
	)
}

func TestDatastarSSEIsDatastarGosWireFormat(t *testing.T) {
	te := newTestEnv(t, nil)
	h := datastarHost(t, te)
	e, rec := te.event(http.MethodGet, "/api/chat", "", "Datastar-Request: true")
	p := h.newPage(e, rec, nil)

	p.mustRun(`
	  datastar.patchElements('<div id="a">1</div>\n<div id="b">2</div>', { selector: '#list', mode: 'append', useViewTransition: true, eventId: 'e1', retryDuration: 2500 })
	  datastar.patchSignals(stringify({ message: '' }), { onlyIfMissing: true })
	  datastar.patchSignals({ count: 2 })
	  datastar.executeScript('console.log(1)', { attributes: ['type="module"'], autoRemove: false })
	  datastar.consoleLog('hi')
	`)

	// The same calls straight on datastar-go.
	want := httptest.NewRecorder()
	sse := datastar.NewSSE(want, httptest.NewRequest(http.MethodGet, "/", nil))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(sse.PatchElements("<div id=\"a\">1</div>\n<div id=\"b\">2</div>", datastar.WithSelector("#list"), datastar.WithModeAppend(),
		datastar.WithViewTransitions(), datastar.WithPatchElementsEventID("e1"), datastar.WithRetryDuration(2500*1e6)))
	must(sse.PatchSignals([]byte(`{"message":""}`), datastar.WithOnlyIfMissing(true)))
	must(sse.PatchSignals([]byte(`{"count":2}`)))
	must(sse.ExecuteScript("console.log(1)", datastar.WithExecuteScriptAttributes(`type="module"`), datastar.WithExecuteScriptAutoRemove(false)))
	must(sse.ExecuteScript(`console.log("hi")`))

	if rec.Body.String() != want.Body.String() {
		t.Fatalf("got\n%s\nwant\n%s", rec.Body, want.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if !e.Written() {
		t.Fatal("the response should be written (the engine checks e.Written())")
	}
	// and that format is Datastar's SSE protocol
	if !strings.Contains(rec.Body.String(), "event: datastar-patch-signals\ndata: onlyIfMissing true\ndata: signals {\"message\":\"\"}\n\n") {
		t.Fatalf("unexpected wire format:\n%s", rec.Body)
	}

	// Bad options are clear errors.
	if got := p.mustRun(`try { datastar.patchElements('<p></p>', { mode: 'sideways' }) } catch (e) { return e.message }`).String(); !strings.Contains(got, `invalid mode "sideways"`) {
		t.Fatalf("bad mode: %q", got)
	}
}

func TestDatastarRenderedPageBecomesAnEvent(t *testing.T) {
	te := newTestEnv(t, nil)
	h := datastarHost(t, te)

	// A Datastar request naming a selector: the page goes inside it.
	e, rec := te.event(http.MethodGet, "/general", "", "Datastar-Request: true", "Datastar-Selector: #main")
	p := h.newPage(e, rec, nil)
	if out := p.render("/pages/(site)/[roomName]/index.ejs", "<h1>general</h1>"); out != "<h1>general</h1>" {
		t.Fatalf("onRender must return the content: %q", out)
	}
	want := "event: datastar-patch-elements\ndata: selector #main\ndata: mode inner\ndata: elements <h1>general</h1>\n\n\n" // datastar-go ends an event with an extra blank line
	if rec.Body.String() != want {
		t.Fatalf("got %q\nwant %q", rec.Body, want)
	}

	// A plain browser request: untouched.
	e2, rec2 := te.event(http.MethodGet, "/general", "")
	p2 := h.newPage(e2, rec2, nil)
	p2.render("/pages/(site)/[roomName]/index.ejs", "<h1>general</h1>")
	if rec2.Body.Len() != 0 || e2.Written() {
		t.Fatalf("a non-Datastar request got %q", rec2.Body)
	}
}

func TestDatastarReadSignals(t *testing.T) {
	te := newTestEnv(t, nil)
	h := datastarHost(t, te)

	signals := `{"clientId":"c1","roomName":"help","from":"🐱","message":"hi","nested":{"a":[1,2]}}`
	e, rec := te.event(http.MethodGet, "/api/chat?datastar="+url.QueryEscape(signals), "")
	p := h.newPage(e, rec, nil)
	got := p.mustRun(`return JSON.stringify(datastar.readSignals(request, { message: 'default', keep: true }))`).String()
	if got != `{"message":"hi","keep":true,"clientId":"c1","roomName":"help","from":"🐱","nested":{"a":[1,2]}}` {
		t.Fatalf("GET: %s", got)
	}

	e2, rec2 := te.event(http.MethodPost, "/api/chat", `{"message":"posted"}`, "Content-Type: application/json")
	p2 := h.newPage(e2, rec2, nil)
	if got := p2.mustRun(`return datastar.readSignals(request, {}).message`).String(); got != "posted" {
		t.Fatalf("POST: %s", got)
	}

	e3, rec3 := te.event(http.MethodGet, "/api/chat", "")
	p3 := h.newPage(e3, rec3, nil)
	if got := p3.mustRun(`return JSON.stringify(datastar.readSignals(request, { a: 1 }))`).String(); got != `{"a":1}` {
		t.Fatalf("no signals: %s", got)
	}

	e4, rec4 := te.event(http.MethodPost, "/api/chat", `{not json`, "Content-Type: application/json")
	p4 := h.newPage(e4, rec4, nil)
	if got := p4.mustRun(`try { datastar.readSignals(request, {}) } catch (e) { return e.message }`).String(); !strings.HasPrefix(got, "Failed to unmarshal signals") {
		t.Fatalf("bad signals: %s", got)
	}
}

func TestDatastarRealtimeAndScripts(t *testing.T) {
	te := newTestEnv(t, nil)
	client := subscriptions.NewDefaultClient()
	client.Subscribe("datastar")
	te.app.SubscriptionsBroker().Register(client)

	h := datastarHost(t, te)
	e, rec := te.event(http.MethodGet, "/api/chat", "")
	p := h.newPage(e, rec, nil)
	p.mustRun(`datastar.realtime.patchElements('<div id="chat">hi</div>', { mode: 'outer' }, { filter: (id, c) => c.hasSubscription('datastar') })`)
	msg := receive(t, client)
	if msg.Name != "datastar" || string(msg.Data) != `{"type":"datastar-patch-elements","el":null,"argsRaw":{"elements":"<div id=\"chat\">hi</div>","mode":"outer"}}` {
		t.Fatalf("got %s %s", msg.Name, msg.Data)
	}

	scripts := p.mustRun(`return datastar.scripts({ realtime: true, spa: { scope: '#nav', selector: '#main' } })`).String()
	for _, part := range []string{"cdn.jsdelivr.net/gh/starfederation/datastar", "new EventSource('/api/realtime')", "subscriptions: ['datastar']",
		"document.querySelector('#nav')", "headers['Datastar-Selector'] = '#main'", "@get(href, {headers: ${JSON.stringify(headers)}})"} {
		if !strings.Contains(scripts, part) {
			t.Fatalf("scripts() lacks %q", part)
		}
	}

	// Without the realtime plugin: a clear error.
	h2 := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-datastar"})
	p2 := h2.newPage(e, rec, nil)
	if got := p2.mustRun(`try { datastar.realtime.patchSignals('{}') } catch (e) { return e.message }`).String(); !strings.Contains(got, "pocketpages-plugin-realtime") {
		t.Fatalf("got %q", got)
	}
}
