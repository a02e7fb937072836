/// <reference path="../pb_data/types.d.ts" />

// Seed products of the demo shop. Prices are in cents; "art" and "hue" pick
// the inline SVG illustration (templates/_private/art.ejs), so the shop
// loads nothing from outside its own origin.
migrate((app) => {
  const products = app.findCollectionByNameOrId("products")
  const seed = [
    { slug: "sunrise-mug", name: "Sunrise Mug", art: "mug", hue: 24, price: 1800,
      tagline: "Stoneware, 350 ml, glazed by hand.",
      description: "A heavy, warm mug for slow mornings. Dishwasher safe, microwave safe, sunrise inside." },
    { slug: "cloud-tee", name: "Cloud Cotton Tee", art: "tee", hue: 205, price: 2900,
      tagline: "Organic cotton, relaxed fit.",
      description: "The softest tee we have ever made. Garment-dyed, pre-shrunk, and cut for actual humans." },
    { slug: "field-notebook", name: "Field Notebook", art: "notebook", hue: 145, price: 1200,
      tagline: "A5, 120 dotted pages, lies flat.",
      description: "Thread-bound, 100 gsm paper that takes fountain pens, with a pocket for the receipts you will lose anyway." },
    { slug: "tiny-monstera", name: "Tiny Monstera", art: "plant", hue: 120, price: 2400,
      tagline: "A leafy friend in a 9 cm pot.",
      description: "Forgiving, fast-growing and photogenic. Water once a week; tell it about your day." },
    { slug: "cedar-candle", name: "Cedar & Smoke Candle", art: "candle", hue: 35, price: 2200,
      tagline: "Soy wax, 40 hours, cotton wick.",
      description: "Campfire without the campfire. Poured in small batches into a reusable amber glass." },
    { slug: "stripe-socks", name: "Happy Stripe Socks", art: "socks", hue: 330, price: 900,
      tagline: "Two pairs, combed cotton.",
      description: "Reinforced heel and toe, stripes that survive the wash, and a fit that stays up." },
  ]
  for (const p of seed) {
    const r = new Record(products)
    r.load(p)
    app.save(r)
  }
}, (app) => {
  const products = app.findCollectionByNameOrId("products")
  for (const slug of ["sunrise-mug", "cloud-tee", "field-notebook", "tiny-monstera", "cedar-candle", "stripe-socks"]) {
    try {
      app.delete(app.findFirstRecordByData(products, "slug", slug))
    } catch (_) {}
  }
})
