package plugins

import (
	"encoding/json"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// The Go side of pocketpages-plugin-realtime (js/realtime.js): PocketBase's
// own subscriptions broker (the one behind /api/realtime), so a message
// reaches every browser subscribed with the JS SDK or a plain EventSource.

// realtimeSend is natives.realtimeSend(topic, data, filter?) → the number of
// clients the message goes to. The filter(clientId, client, topic, data)
// runs here, on the page's VM (goja is single-threaded); the messages are
// delivered in the background through each client's outbox (outbox.go): a
// stalled browser connection holds up neither the page nor the other
// clients, and each client gets its messages in the order they were sent.
func (n *natives) realtimeSend(topic, data string, filter goja.Value) int {
	fn, hasFilter := goja.AssertFunction(filter)
	var targets []subscriptions.Client
	for id, client := range n.env.App.SubscriptionsBroker().Clients() {
		if client.IsDiscarded() {
			continue
		}
		if !hasFilter {
			if client.HasSubscription(topic) {
				targets = append(targets, client)
			}
			continue
		}
		ok, err := fn(goja.Undefined(), n.vm.ToValue(id), n.clientObject(client), n.vm.ToValue(topic), n.vm.ToValue(data))
		if err != nil {
			panic(err) // the filter's own exception, unchanged
		}
		if ok.ToBoolean() {
			targets = append(targets, client)
		}
	}
	msg := subscriptions.Message{Name: topic, Data: []byte(data)}
	for _, client := range targets {
		n.deliver(client, msg)
	}
	return len(targets)
}

// realtimeClient is natives.realtimeClient(id): the client with that id, or
// undefined (as PocketPages' getClientById).
func (n *natives) realtimeClient(id string) goja.Value {
	client, err := n.env.App.SubscriptionsBroker().ClientById(id)
	if err != nil {
		return goja.Undefined()
	}
	return n.clientObject(client)
}

// clientObject is a broker client as pages use it: id(), hasSubscription(),
// subscriptions(), get/set/unset (values are stored as Go values, since a
// client outlives the VM and is shared by all of them), send(message),
// isDiscarded().
func (n *natives) clientObject(client subscriptions.Client) *goja.Object {
	vm := n.vm
	obj := vm.NewObject()
	obj.Set("id", client.Id)
	obj.Set("hasSubscription", client.HasSubscription)
	obj.Set("subscriptions", func(prefixes ...string) map[string]subscriptions.SubscriptionOptions {
		return client.Subscriptions(prefixes...)
	})
	obj.Set("get", func(key string) goja.Value {
		v := client.Get(key)
		if v == nil {
			return goja.Undefined()
		}
		return vm.ToValue(v)
	})
	obj.Set("set", func(key string, value goja.Value) {
		if _, isFn := goja.AssertFunction(value); isFn {
			panic(vm.NewTypeError("client.set(%q): a function cannot be stored, the client is shared by every page VM", key))
		}
		client.Set(key, value.Export())
	})
	obj.Set("unset", client.Unset)
	obj.Set("isDiscarded", client.IsDiscarded)
	obj.Set("send", func(message goja.Value) {
		msg, ok := message.Export().(subscriptions.Message)
		if !ok {
			if p, isPtr := message.Export().(*subscriptions.Message); isPtr && p != nil {
				msg, ok = *p, true
			}
		}
		if !ok {
			o, isObj := message.(*goja.Object)
			if !isObj {
				panic(vm.NewTypeError("client.send expects a message {name, data}"))
			}
			msg.Name = o.Get("name").String()
			data := o.Get("data")
			if goja.IsString(data) {
				msg.Data = []byte(data.String())
			} else if raw, err := json.Marshal(data.Export()); err == nil {
				msg.Data = raw
			}
		}
		n.deliver(client, msg)
	})
	return obj
}
