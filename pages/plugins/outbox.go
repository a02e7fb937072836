package plugins

import (
	"sync"

	"github.com/pocketbase/pocketbase/tools/routine"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// A client's outbox: realtime.send() must not wait for a browser (a
// client's channel is unbuffered and drained by its /api/realtime
// connection), yet a chat must not show an older message after a newer one.
// So each client gets a queue, drained in order by one goroutine that runs
// only while the queue is not empty.

// outboxLimit bounds the messages waiting for one stalled client; beyond
// it new messages for that client are dropped (and logged), so a dead
// connection that PocketBase has not noticed yet cannot grow memory.
const outboxLimit = 1000

// outboxKey is where a client keeps its outbox (the client's own store, so
// it goes away with the client).
const outboxKey = "@pocketguest.outbox"

// outboxesMu makes the get-or-create of a client's outbox atomic across VMs.
var outboxesMu sync.Mutex

type outbox struct {
	mu      sync.Mutex
	pending []subscriptions.Message
	running bool
}

// deliver queues msg for client and makes sure a goroutine drains the queue.
func (n *natives) deliver(client subscriptions.Client, msg subscriptions.Message) {
	outboxesMu.Lock()
	box, _ := client.Get(outboxKey).(*outbox)
	if box == nil {
		box = &outbox{}
		client.Set(outboxKey, box)
	}
	outboxesMu.Unlock()

	box.mu.Lock()
	if len(box.pending) >= outboxLimit {
		box.mu.Unlock()
		n.env.App.Logger().Warn("realtime.send: message dropped, the client is not reading", "clientId", client.Id(), "topic", msg.Name)
		return
	}
	box.pending = append(box.pending, msg)
	if box.running {
		box.mu.Unlock()
		return
	}
	box.running = true
	box.mu.Unlock()

	routine.FireAndForget(func() {
		for {
			box.mu.Lock()
			if len(box.pending) == 0 {
				box.running = false
				box.mu.Unlock()
				return
			}
			next := box.pending[0]
			box.pending = box.pending[1:]
			box.mu.Unlock()

			client.Send(next) // returns at once for a discarded client
		}
	})
}
