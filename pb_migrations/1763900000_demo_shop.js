/// <reference path="../pb_data/types.d.ts" />

// The guest-checkout demo shop (templates/): products, cart items, orders and
// saved payment methods.
//
// Why cart_items point straight at the user (no "carts" collection): when a
// guest signs in to an existing account, PocketGuest re-points every record
// that references the guest through a relation to the account. With one row
// per cart line that merge is just "the account now owns these lines"; a
// per-user cart record would collide with the account's own cart.
//
// Rules matter for the REST API (/api/collections/...); the demo pages run
// server-side with $app and enforce the same ownership in their queries.
migrate((app) => {
  const users = app.findCollectionByNameOrId("users")

  // anonauth adds isAnonymous when the server starts; the rules below refer
  // to it, so make sure it exists already (anonauth then only adds its
  // create/update rule guards).
  if (!users.fields.getByName("isAnonymous")) {
    users.fields.add(new BoolField({ name: "isAnonymous" }))
    app.save(users)
  }

  const owner = (extra) => ({
    type: "relation",
    name: "user",
    collectionId: users.id,
    maxSelect: 1,
    ...extra,
  })
  const timestamps = [
    { type: "autodate", name: "created", onCreate: true, onUpdate: false },
    { type: "autodate", name: "updated", onCreate: true, onUpdate: true },
  ]

  // Anyone may browse; only superusers (the dashboard) edit the catalogue.
  app.save(new Collection({
    type: "base",
    name: "products",
    listRule: "",
    viewRule: "",
    fields: [
      { type: "text", name: "name", required: true, max: 80 },
      { type: "text", name: "slug", required: true, max: 80, pattern: "^[a-z0-9-]+$" },
      { type: "text", name: "tagline", max: 120 },
      { type: "text", name: "description", max: 1000 },
      { type: "number", name: "price", required: true, onlyInt: true, min: 1 }, // cents
      { type: "select", name: "art", maxSelect: 1, values: ["mug", "tee", "notebook", "plant", "candle", "socks"] },
      { type: "number", name: "hue", onlyInt: true, min: 0, max: 360 },
      ...timestamps,
    ],
    indexes: ["CREATE UNIQUE INDEX idx_products_slug ON products (slug)"],
  }))

  const products = app.findCollectionByNameOrId("products")

  // One row per cart line, owned by a user (guest or not). Deleting the
  // user ("forget me") deletes their cart.
  app.save(new Collection({
    type: "base",
    name: "cart_items",
    listRule: "user = @request.auth.id",
    viewRule: "user = @request.auth.id",
    createRule: "@request.auth.id != '' && @request.body.user = @request.auth.id",
    updateRule: "user = @request.auth.id && @request.body.user:isset = false",
    deleteRule: "user = @request.auth.id",
    fields: [
      owner({ required: true, cascadeDelete: true }),
      { type: "relation", name: "product", collectionId: products.id, maxSelect: 1, required: true, cascadeDelete: true },
      { type: "number", name: "quantity", required: true, onlyInt: true, min: 1, max: 99 },
      ...timestamps,
    ],
    indexes: ["CREATE INDEX idx_cart_items_user ON cart_items (user)"],
  }))

  // A guest may place an order (any signed-in user, for themselves) and sees
  // only their own. Orders are never edited by clients. Deleting a guest
  // keeps the order for the shop (the relation is just emptied).
  app.save(new Collection({
    type: "base",
    name: "orders",
    listRule: "@request.auth.id != '' && user = @request.auth.id",
    viewRule: "@request.auth.id != '' && user = @request.auth.id",
    createRule: "@request.auth.id != '' && @request.body.user = @request.auth.id",
    updateRule: null,
    deleteRule: null,
    fields: [
      owner({ required: false, cascadeDelete: false }),
      { type: "text", name: "number", required: true, max: 20 },
      { type: "json", name: "items", required: true, maxSize: 20000 }, // [{product, name, price, quantity}]
      { type: "number", name: "total", required: true, onlyInt: true, min: 0 }, // cents
      { type: "text", name: "name", required: true, max: 100 },
      { type: "email", name: "email", required: true },
      { type: "text", name: "address", required: true, max: 300 },
      { type: "bool", name: "placedAsGuest" },
      ...timestamps,
    ],
    indexes: [
      "CREATE INDEX idx_orders_user ON orders (user)",
      "CREATE UNIQUE INDEX idx_orders_number ON orders (number)",
    ],
  }))

  // Saving a card needs a full account: guests are refused by the rule.
  app.save(new Collection({
    type: "base",
    name: "payment_methods",
    listRule: "user = @request.auth.id",
    viewRule: "user = @request.auth.id",
    createRule: "@request.auth.id != '' && @request.auth.isAnonymous = false && @request.body.user = @request.auth.id",
    updateRule: "user = @request.auth.id && @request.auth.isAnonymous = false && @request.body.user:isset = false",
    deleteRule: "user = @request.auth.id",
    fields: [
      owner({ required: true, cascadeDelete: true }),
      { type: "select", name: "brand", required: true, maxSelect: 1, values: ["visa", "mastercard", "amex"] },
      { type: "text", name: "last4", required: true, pattern: "^[0-9]{4}$" },
      { type: "text", name: "expiry", required: true, pattern: "^(0[1-9]|1[0-2])/[0-9]{2}$" },
      ...timestamps,
    ],
  }))
}, (app) => {
  for (const name of ["payment_methods", "orders", "cart_items", "products"]) {
    try {
      app.delete(app.findCollectionByNameOrId(name))
    } catch (_) {
      // already gone
    }
  }
})
