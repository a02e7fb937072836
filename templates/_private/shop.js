// The demo shop's server-side helpers: resolve('shop') in a page.
//
// Pages run with $app (no collection rules), so every query here is scoped
// to the signed-in user on purpose: the same ownership the REST API rules in
// pb_migrations enforce.

const MESSAGES = {
  added: 'Added to your cart.',
  placed: 'Thank you! Your order is placed.',
  saved: 'Your account is saved. Your cart and orders came with you.',
  'signed-in': 'Welcome back! You are signed in.',
  merged: 'Welcome back! Your guest cart was moved into your account.',
  'signed-out': 'You are signed out.',
  forgotten: 'Your guest session and cart were deleted.',
  'card-saved': 'Payment method saved.',
  'card-removed': 'Payment method removed.',
}

function auth() {
  return api.request.auth
}

function isGuest() {
  const u = api.request.auth
  return !!u && u.getBool('isAnonymous')
}

function money(cents) {
  const n = Number(cents) || 0
  const dollars = Math.floor(n / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return '$' + dollars + '.' + String(n % 100).padStart(2, '0')
}

// flash returns the message for the ?msg= code of a redirect (fixed texts
// only: a URL must not be able to put arbitrary words on the page, nor
// reach Object.prototype with ?msg=constructor).
function flash() {
  const code = api.params.msg
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(MESSAGES, code) ? MESSAGES[code] : ''
}

// badRequest is an error that answers 400 when a page does not catch it.
function badRequest(message) {
  const e = new Error(message)
  e.status = 400
  return e
}

// form returns the posted form ({} for other methods) with every value a
// string. A JSON body can hold any shape ({"email": {"toString": 1}},
// arrays, a bare number or null); such a field is refused with a 400
// instead of reaching String(), whose call of the object's own toString
// throws (a 500), or a query. A repeated form field is refused the same way.
function form() {
  if (api.request.method !== 'POST') {
    return {}
  }
  const raw = api.body()
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw badRequest('The form must be a set of fields.')
  }
  const out = {}
  for (const key of Object.keys(raw)) {
    const v = raw[key]
    if (v === null || v === undefined) {
      out[key] = ''
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      out[key] = String(v)
    } else {
      throw badRequest('The form field "' + key + '" must be text.')
    }
  }
  return out
}

// safeNext accepts only local paths for ?next= redirects.
function safeNext(next, fallback) {
  if (typeof next === 'string' && /^\/(?![\/\\])/.test(next)) {
    return next
  }
  return fallback || '/'
}

// withMessage returns a local path with ?msg=code (replacing an earlier one).
function withMessage(path, code) {
  let [base, query] = String(path).split('#')[0].split('?')
  const kept = (query || '').split('&').filter((kv) => kv && !kv.startsWith('msg='))
  kept.push('msg=' + encodeURIComponent(code))
  return base + '?' + kept.join('&')
}

function products() {
  return $app.findRecordsByFilter('products', '', 'created,name', 0, 0)
}

function productById(id) {
  try {
    return $app.findRecordById('products', String(id || ''))
  } catch (_) {
    return null
  }
}

function productBySlug(slug) {
  try {
    return $app.findFirstRecordByData('products', 'slug', String(slug || ''))
  } catch (_) {
    return null
  }
}

function rawLines(userId) {
  if (!userId) {
    return []
  }
  return $app.findRecordsByFilter('cart_items', 'user = {:user}', 'created', 0, 0, { user: userId })
}

// cart groups the user's cart rows by product. A merge of a guest cart into
// an account can leave two rows for one product; they show (and are
// ordered) as one line.
function cart() {
  const u = auth()
  const rows = rawLines(u && u.id)
  const byProduct = {}
  const lines = []
  for (const row of rows) {
    const pid = row.getString('product')
    let line = byProduct[pid]
    if (!line) {
      const product = productById(pid)
      if (!product) {
        continue
      }
      line = { product, quantity: 0, rows: [] }
      byProduct[pid] = line
      lines.push(line)
    }
    line.quantity += row.getInt('quantity')
    line.rows.push(row)
  }
  let total = 0
  let count = 0
  for (const line of lines) {
    line.subtotal = line.quantity * line.product.getInt('price')
    total += line.subtotal
    count += line.quantity
  }
  return { lines, rows, total, count }
}

function cartCount() {
  const u = auth()
  if (!u) {
    return 0
  }
  let n = 0
  for (const row of rawLines(u.id)) {
    n += row.getInt('quantity')
  }
  return n
}

function clampQuantity(q) {
  const n = parseInt(q, 10)
  if (isNaN(n)) {
    return 1
  }
  return Math.max(0, Math.min(99, n))
}

// setQuantity makes the user's cart hold exactly quantity of the product
// (0 removes it), folding duplicate rows into one.
function setQuantity(productId, quantity) {
  const u = auth()
  const product = productById(productId)
  if (!u || !product) {
    throw new Error('That product does not exist.')
  }
  const q = clampQuantity(quantity)
  $app.runInTransaction((tx) => {
    const rows = tx.findRecordsByFilter('cart_items', 'user = {:user} && product = {:product}', 'created', 0, 0, {
      user: u.id,
      product: product.id,
    })
    for (let i = 1; i < rows.length; i++) {
      tx.delete(rows[i])
    }
    if (q === 0) {
      if (rows.length) {
        tx.delete(rows[0])
      }
      return
    }
    let row = rows[0]
    if (!row) {
      row = new Record(tx.findCollectionByNameOrId('cart_items'))
      row.set('user', u.id)
      row.set('product', product.id)
    }
    row.set('quantity', q)
    tx.save(row)
  })
}

function addToCart(productId, quantity) {
  const u = auth()
  let current = 0
  for (const row of rawLines(u && u.id)) {
    if (row.getString('product') === String(productId)) {
      current += row.getInt('quantity')
    }
  }
  setQuantity(productId, Math.min(99, current + Math.max(1, clampQuantity(quantity || 1))))
}

function orderNumber() {
  return 'PG-' + $security.randomStringWithAlphabet(6, 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789')
}

// placeOrder turns the cart into an order, in one transaction: the order
// exists with its items and the cart is empty, or nothing changed.
function placeOrder(details) {
  const u = auth()
  const c = cart()
  if (!u || !c.lines.length) {
    throw new Error('Your cart is empty.')
  }
  let id = ''
  $app.runInTransaction((tx) => {
    const order = new Record(tx.findCollectionByNameOrId('orders'))
    order.load({
      user: u.id,
      number: orderNumber(),
      items: c.lines.map((l) => ({
        product: l.product.id,
        name: l.product.getString('name'),
        price: l.product.getInt('price'),
        quantity: l.quantity,
      })),
      total: c.total,
      name: details.name,
      email: details.email,
      address: details.address,
      placedAsGuest: u.getBool('isAnonymous'),
    })
    tx.save(order)
    for (const row of c.rows) {
      tx.delete(tx.findRecordById('cart_items', row.id))
    }
    id = order.id
  })
  return id
}

function orders() {
  const u = auth()
  if (!u) {
    return []
  }
  return $app.findRecordsByFilter('orders', 'user = {:user}', '-created', 50, 0, { user: u.id })
}

// order returns the user's own order, or null (also for someone else's).
function order(id) {
  const u = auth()
  if (!u) {
    return null
  }
  try {
    const o = $app.findRecordById('orders', String(id || ''))
    return o.getString('user') === u.id ? o : null
  } catch (_) {
    return null
  }
}

function orderItems(o) {
  try {
    return JSON.parse(o.getString('items') || '[]') || []
  } catch (_) {
    return []
  }
}

function paymentMethods() {
  const u = auth()
  if (!u) {
    return []
  }
  return $app.findRecordsByFilter('payment_methods', 'user = {:user}', 'created', 20, 0, { user: u.id })
}

// fieldError reads a field message out of a PocketBase error's data
// ({email: {code, message}}), if the thrown error carries one.
function fieldError(error, field) {
  const d = error && error.data
  const f = d && (d[field] || (d.data && d.data[field]))
  return (f && f.message) || ''
}

// friendly maps a thrown error to what the page shows.
function friendly(error) {
  if (!error) {
    return ''
  }
  if (error.status === 429) {
    return 'Too many new guest sessions from your network right now. ' + error.message
  }
  return error.message || String(error)
}

module.exports = {
  auth, isGuest, money, flash, form, safeNext, withMessage, products, productById, productBySlug,
  cart, cartCount, setQuantity, addToCart, clampQuantity, placeOrder, orders, order, orderItems,
  paymentMethods, fieldError, friendly,
}
