// pocketpages-plugin-realtime, built into PocketGuest.
//
// Adds api.realtime to every page:
//
//   realtime.send(topic, message, {filter?})  message to PocketBase's
//       realtime (SSE) clients subscribed to topic; filter(clientId, client,
//       topic, message) → bool chooses the clients instead
//   realtime.getClientById(id)  a client: id(), hasSubscription(topic),
//       get(key), set(key, value), unset(key), send({name, data})
//
// Clients are the ones connected to /api/realtime (PocketBase's broker);
// send() returns at once with the number of clients chosen (PocketPages
// returns nothing), the messages go out in the background.

const natives = __pocketguestPlugins

function realtimePluginFactory(config) {
  return {
    name: 'sse',
    onExtendContextApi: ({ api }) => {
      api.realtime = {
        getClientById(clientId) {
          return natives.realtimeClient(String(clientId))
        },
        send(topic, message, options) {
          const data = typeof message === 'string' ? message : JSON.stringify(message)
          const filter = options && options.filter
          return natives.realtimeSend(String(topic), data, filter)
        },
      }
    },
  }
}

module.exports = realtimePluginFactory
module.exports.default = realtimePluginFactory
