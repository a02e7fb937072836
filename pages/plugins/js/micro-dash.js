// pocketpages-plugin-micro-dash, built into PocketGuest.
//
// Adds forEach, keys, values, merge, pick and shuffle (the functions the npm
// plugin takes from @s-libs/micro-dash, with the same semantics) to every
// page's globals.

function keysOfNonArray(object) {
  return object ? Object.getOwnPropertyNames(object) : []
}

// keys(object): own property names; an array's indexes (no 'length').
function keys(object) {
  const names = keysOfNonArray(object)
  return Array.isArray(object) ? names.filter((name) => name !== 'length') : names
}

// values(object): the values of keys(object).
function values(object) {
  return keys(object).map((key) => object[key])
}

// forEach(collection, iteratee): iteratee(value, indexOrKey) for each
// element or own property; returning false stops early. Returns collection.
function forEach(collection, iteratee) {
  if (Array.isArray(collection)) {
    for (let i = 0, len = collection.length; i < len; ++i) {
      if (iteratee(collection[i], i) === false) break
    }
  } else {
    const names = keysOfNonArray(collection)
    for (let i = 0; i < names.length; ++i) {
      if (iteratee(collection[names[i]], names[i]) === false) break
    }
  }
  return collection
}

// clone is a shallow copy that keeps arrays arrays and the prototype.
function clone(value) {
  if (Array.isArray(value)) return value.slice()
  return Object.assign(Object.create(Object.getPrototypeOf(value)), value)
}

// merge(object, ...sources): recursively merges the sources' own properties
// into object (mutated and returned); nested objects are copied, not shared.
function merge(object, ...sources) {
  for (const source of sources) {
    forEach(source, (value, key) => {
      const mine = object[key]
      if (mine instanceof Object) {
        value = merge(clone(mine), value)
      }
      object[key] = value
    })
  }
  return object
}

// pick(object, ...paths): a new object with only the given own paths.
function pick(object, ...paths) {
  const result = {}
  if (object != null) {
    for (const path of paths) {
      result[path] = object[path]
    }
  }
  return result
}

// shuffle(collection): a new array of the collection's values in random
// order (Fisher-Yates).
function shuffle(collection) {
  const result = Array.isArray(collection) ? collection.slice() : values(collection)
  for (let i = result.length - 1; i > 0; --i) {
    const j = Math.floor(Math.random() * (i + 1))
    const tmp = result[i]
    result[i] = result[j]
    result[j] = tmp
  }
  return result
}

function microDashPluginFactory(config) {
  const { globalApi } = config
  globalApi.forEach = forEach
  globalApi.keys = keys
  globalApi.values = values
  globalApi.merge = merge
  globalApi.pick = pick
  globalApi.shuffle = shuffle
  return { name: 'micro-dash' }
}

module.exports = microDashPluginFactory
module.exports.default = microDashPluginFactory
