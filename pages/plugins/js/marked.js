// pocketpages-plugin-marked, built into PocketGuest.
//
// Renders Markdown files (option `extensions`, default ['.md']) to HTML
// after EJS has run on them, as PocketPages does: front matter goes to
// meta(key, value), headings get ids, images go through asset(). The
// Markdown engine is goldmark (natives.markdown) instead of marked.
//
// Use it with pocketpages-plugin-ejs' `extensions: ['.ejs', '.md']`, which
// makes .md files pages and includable partials.

const natives = __pocketguestPlugins

function extname(filePath) {
  const base = String(filePath).split('/').pop()
  const dot = base.lastIndexOf('.')
  return dot <= 0 ? '' : base.slice(dot)
}

function markedPluginFactory(config, extra) {
  const dbg = config.dbg || (() => {})
  const opts = { extensions: ['.md'], ...extra }
  const handles = (filePath) => opts.extensions.includes(extname(filePath))

  return {
    name: 'marked',
    handles: ({ filePath }) => handles(filePath),
    onRender: ({ content, api, filePath }) => {
      if (!handles(filePath)) return content
      dbg('marked onRender', { filePath })
      const asset = api && typeof api.asset === 'function' ? (href) => api.asset(href) : undefined
      const result = natives.markdown(String(content), asset)
      const frontMatter = result.frontMatter
      for (const key of Object.keys(frontMatter)) {
        api.meta(key, frontMatter[key])
      }
      return result.html
    },
  }
}

module.exports = markedPluginFactory
module.exports.default = markedPluginFactory
