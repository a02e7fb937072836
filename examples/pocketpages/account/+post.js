// Loader for POST only: runs after +load.js.
module.exports = function (api) {
  return { trail: api.data.trail + '>post', saved: api.body().note || '' }
}
