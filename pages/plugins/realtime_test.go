package plugins

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// receive waits for a message on client (the bound is only a guard against
// a hung test, not a timing assumption: the message is already on its way).
func receive(t *testing.T, client subscriptions.Client) subscriptions.Message {
	t.Helper()
	select {
	case msg := <-client.Channel():
		return msg
	case <-time.After(30 * time.Second):
		t.Fatal("no realtime message")
		return subscriptions.Message{}
	}
}

func TestRealtimeSendReachesBrokerClients(t *testing.T) {
	te := newTestEnv(t, nil)
	broker := te.app.SubscriptionsBroker()

	subscribed := subscriptions.NewDefaultClient()
	subscribed.Subscribe("chat")
	other := subscriptions.NewDefaultClient()
	other.Subscribe("news")
	inHelp := subscriptions.NewDefaultClient()
	inHelp.Subscribe("chat")
	for _, c := range []subscriptions.Client{subscribed, other, inHelp} {
		broker.Register(c)
	}

	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-realtime"})
	e, rec := te.event(http.MethodPost, "/api/chat", "")
	p := h.newPage(e, rec, nil)
	p.api.Set("helpId", inHelp.Id())

	// PocketPages' htmx starter: realtime.send('chat', html) to every client
	// subscribed to the topic.
	if n := p.mustRun(`return realtime.send('chat', '<p>hello</p>')`).ToInteger(); n != 2 {
		t.Fatalf("send chose %d clients, want 2", n)
	}
	for _, c := range []subscriptions.Client{subscribed, inHelp} {
		if msg := receive(t, c); msg.Name != "chat" || string(msg.Data) != "<p>hello</p>" {
			t.Fatalf("got %s %q", msg.Name, msg.Data)
		}
	}

	// The datastar starter: getClientById(id).set(...), then a filter on
	// client.get(...) (values kept in Go, so any VM reads them).
	got := p.mustRun(`
	  realtime.getClientById(helpId).set('roomName', 'help')
	  const n = realtime.send('chat', { text: 'hi help' }, {
	    filter: (clientId, client, topic, message) => client.get('roomName') === 'help' && clientId === client.id() && topic === 'chat',
	  })
	  return n + ' ' + realtime.getClientById(helpId).get('roomName') + ' ' + typeof realtime.getClientById('nope')
	`).String()
	if got != "1 help undefined" {
		t.Fatalf("got %q", got)
	}
	if v := inHelp.Get("roomName"); v != "help" {
		t.Fatalf("client store: %v", v)
	}
	if msg := receive(t, inHelp); string(msg.Data) != `{"text":"hi help"}` {
		t.Fatalf("filtered message: %q", msg.Data)
	}

	if got := p.mustRun(`try { realtime.getClientById(helpId).set('fn', () => 1) } catch (e) { return e.message }`).String(); !strings.Contains(got, "a function cannot be stored") {
		t.Fatalf("set(function): %q", got)
	}

	// A filter that throws fails the page's call, catchably.
	if got := p.mustRun(`try { realtime.send('chat', 'x', { filter: () => { throw new Error('boom') } }) } catch (e) { return e.message }`).String(); got != "boom" {
		t.Fatalf("filter exception: %q", got)
	}
}

// Messages reach each client in the order they were sent, while the page
// never waits for a client that is not reading.
func TestRealtimeKeepsOrderPerClient(t *testing.T) {
	te := newTestEnv(t, nil)
	reader := subscriptions.NewDefaultClient()
	reader.Subscribe("chat")
	stalled := subscriptions.NewDefaultClient() // never read: send must not block on it
	stalled.Subscribe("chat")
	gone := subscriptions.NewDefaultClient()
	gone.Subscribe("chat")
	for _, c := range []subscriptions.Client{reader, stalled, gone} {
		te.app.SubscriptionsBroker().Register(c)
	}
	gone.Discard()

	h := newTestHost(t, te.Env, pluginItem{name: "pocketpages-plugin-realtime"})
	e, rec := te.event(http.MethodPost, "/api/chat", "")
	p := h.newPage(e, rec, nil)
	if n := p.mustRun(`let n = 0; for (let i = 0; i < 50; i++) n += realtime.send('chat', 'm' + i); return n`).ToInteger(); n != 100 {
		t.Fatalf("chosen %d times, want 100 (2 live clients × 50)", n)
	}
	for i := 0; i < 50; i++ {
		if msg := receive(t, reader); string(msg.Data) != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d: got %q", i, msg.Data)
		}
	}
}
