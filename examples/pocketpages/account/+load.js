// Loader for every method: runs after the middlewares.
module.exports = function (api) {
  const me = api.request.auth
  return {
    trail: api.data.trail + '>load',
    account: { id: me.id, anonymous: me.getBool('isAnonymous'), verified: me.verified() },
  }
}
