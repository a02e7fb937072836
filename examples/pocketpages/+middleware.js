// Root middleware: runs first for every page. One parameter: its return
// value is merged into `data`.
module.exports = function (api) {
  const auth = api.request.auth
  return {
    trail: 'root',
    user: auth ? { id: auth.id, email: auth.email(), guest: auth.getBool('isAnonymous') } : null,
  }
}
