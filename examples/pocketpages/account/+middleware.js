// account/ middleware: runs after the root one. Two parameters: it calls
// next(data) to go on, or answers itself (here: a redirect) and the page is
// not rendered.
module.exports = function (api, next) {
  if (!api.request.auth) {
    return api.redirect('/login')
  }
  next({ trail: api.data.trail + '>account' })
}
