// Renders every template named on the command line with the npm "ejs"
// package and prints {name: output} (or {name: {error}}) as JSON.
// Used by ejs_ref_test.go as the reference for the Go port.
//
// usage: node render.js <templatesRoot> <dataJSON> <name>...
'use strict'
const fs = require('fs')
const path = require('path')
const ejs = require('ejs')

const [root, dataJSON, ...names] = process.argv.slice(2)
const data = JSON.parse(dataJSON)

// PocketGuest (and PocketPages) extension: <script server> is <% %>.
const rewrite = (text) =>
  text.replace(/<script\s+server\s*>([\s\S]*?)<\/script\s*>/gi, '<%$1%>')

// include(): "/x" is from the root, anything else is _private/x searched from
// the including file's folder up to the root; ".ejs" is added when missing.
// ejs calls the includer as a method of the including template's options,
// so this.filename is the including file.
const includer = function (original) {
  const withExt = path.extname(original) ? original : original + '.ejs'
  let found
  if (original.startsWith('/')) {
    found = path.join(root, withExt)
  } else {
    let dir = path.dirname(this.filename)
    for (;;) {
      const candidate = path.join(dir, '_private', withExt)
      if (fs.existsSync(candidate)) {
        found = candidate
        break
      }
      if (path.resolve(dir) === path.resolve(root)) break
      dir = path.dirname(dir)
    }
  }
  if (!found) throw new Error('include not found: ' + original)
  return { filename: found, template: rewrite(fs.readFileSync(found, 'utf8')) }
}

const out = {}
for (const name of names) {
  const filename = path.join(root, name)
  try {
    const fn = ejs.compile(rewrite(fs.readFileSync(filename, 'utf8')), {
      filename,
      includer,
    })
    out[name] = fn(data)
  } catch (e) {
    out[name] = { error: String(e && e.message) }
  }
}
process.stdout.write(JSON.stringify(out))
