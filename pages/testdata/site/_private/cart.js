// A page module: resolve('cart') returns module.exports.
let items = []
module.exports = {
  add(item) { items.push(item); return items.length },
  count() { return items.length },
  owner() { return api.request.auth ? api.request.auth.id : null },
}
