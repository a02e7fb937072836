// pocketpages-plugin-js-sdk, built into PocketGuest.
//
// Adds pb(options?): a PocketBase JS SDK client with the official SDK's API
// (pb.collection(name).getList(...), authStore, send, files.getURL, filter),
// but synchronous — every call returns its result instead of a Promise, as
// in PocketPages' jsvm build of the SDK.
//
// PocketPages' client talks HTTP to its own server (option `host`, default
// http://localhost:8090). Ours hands each request to PocketBase's router
// in-process (natives.send): no socket and no server URL, yet every
// middleware, API rule, hook and rate limit applies exactly as for a REST
// call, because it *is* a REST call, minus the network. `host` is accepted
// and only used to build absolute URLs (files.getURL, buildURL).
//
// In a page, pb() acts as the page's user (request.auth, with the request's
// own token); pb({auth: record}) acts as another record, pb({auth: null})
// as a guest without session. Clients are cached per request and user
// (PocketPages caches them for the whole process, so one request's
// authWithPassword() leaked into the next; ours cannot).

const natives = __pocketguestPlugins

// ---------------------------------------------------------------------------
// ClientResponseError, as in the SDK: .url, .status, .response, .isAbort,
// .originalError, .message (the API error's message) and .data (= response).

class ClientResponseError extends Error {
  constructor(errData) {
    super('ClientResponseError')
    this.url = ''
    this.status = 0
    this.response = {}
    this.isAbort = false
    this.originalError = null

    if (errData !== null && typeof errData === 'object') {
      this.originalError = errData.originalError || null
      this.url = typeof errData.url === 'string' ? errData.url : ''
      this.status = typeof errData.status === 'number' ? errData.status : 0
      this.isAbort = !!errData.isAbort
      if (errData.response !== null && typeof errData.response === 'object') {
        this.response = errData.response
      } else if (errData.data !== null && typeof errData.data === 'object') {
        this.response = errData.data
      }
    }
    if (!this.originalError && !(errData instanceof ClientResponseError)) {
      this.originalError = errData
    }

    this.name = 'ClientResponseError ' + this.status
    this.message = (this.response && this.response.message) || ''
    if (!this.message) {
      this.message =
        (this.originalError && this.originalError.message) || 'Something went wrong.'
    }
    this.cause = this.originalError
  }

  get data() {
    return this.response
  }

  toJSON() {
    return { ...this }
  }
}

// ---------------------------------------------------------------------------
// Query parameters, encoded as the SDK encodes them (tools/options.ts).

// Known send options; every other top-level option is a query parameter
// (filter, sort, expand, fields, page, perPage, skipTotal, ...).
const knownSendOptionsKeys = [
  'requestKey', '$cancelKey', '$autoCancel', 'fetch', 'headers', 'body', 'query', 'params',
  'cache', 'credentials', 'integrity', 'keepalive', 'method', 'mode', 'redirect',
  'referrer', 'referrerPolicy', 'signal', 'window',
]

function normalizeUnknownQueryParams(options) {
  options.query = options.query || {}
  for (const key in options) {
    if (knownSendOptionsKeys.includes(key)) continue
    options.query[key] = options[key]
    delete options[key]
  }
}

function prepareQueryParamValue(value) {
  if (value === null || typeof value === 'undefined') return null
  if (value instanceof Date) return encodeURIComponent(value.toISOString().replace('T', ' '))
  if (typeof value === 'object') return encodeURIComponent(JSON.stringify(value))
  return encodeURIComponent(value)
}

function serializeQueryParams(params) {
  const result = []
  for (const key in params) {
    const encodedKey = encodeURIComponent(key)
    const arrValue = Array.isArray(params[key]) ? params[key] : [params[key]]
    for (let v of arrValue) {
      v = prepareQueryParamValue(v)
      if (v === null) continue
      result.push(encodedKey + '=' + v)
    }
  }
  return result.join('&')
}

function getHeader(headers, name) {
  headers = headers || {}
  name = name.toLowerCase()
  for (const key in headers) {
    if (key.toLowerCase() === name) return headers[key]
  }
  return null
}

// ---------------------------------------------------------------------------
// AuthStore: the client's token and record (BaseAuthStore's API).

class AuthStore {
  constructor() {
    this.baseToken = ''
    this.baseModel = null
    this._onChangeCallbacks = []
  }

  get token() {
    return this.baseToken
  }

  get record() {
    return this.baseModel
  }

  get model() {
    return this.baseModel
  }

  get isValid() {
    if (!this.baseToken) return false
    const payload = natives.tokenPayload(this.baseToken)
    return !!payload && (!payload.exp || payload.exp > Date.now() / 1000)
  }

  get isSuperuser() {
    const payload = this.baseToken ? natives.tokenPayload(this.baseToken) : null
    return (
      !!payload &&
      payload.type === 'auth' &&
      ((this.record && this.record.collectionName === '_superusers') ||
        payload.collectionId === '_pbc_2773867675')
    )
  }

  get isAdmin() {
    return this.isSuperuser
  }

  get isAuthRecord() {
    return !!this.baseToken && !!this.baseModel && !this.isSuperuser
  }

  save(token, record) {
    this.baseToken = token || ''
    this.baseModel = record || null
    this.triggerChange()
  }

  clear() {
    this.baseToken = ''
    this.baseModel = null
    this.triggerChange()
  }

  onChange(callback, fireImmediately) {
    this._onChangeCallbacks.push(callback)
    if (fireImmediately) callback(this.token, this.record)
    return () => {
      this._onChangeCallbacks = this._onChangeCallbacks.filter((cb) => cb !== callback)
    }
  }

  triggerChange() {
    for (const callback of this._onChangeCallbacks) callback && callback(this.token, this.record)
  }
}

// ---------------------------------------------------------------------------
// RecordService: pb.collection(name).

class RecordService {
  constructor(client, collectionIdOrName) {
    this.client = client
    this.collectionIdOrName = collectionIdOrName
  }

  get baseCollectionPath() {
    return '/api/collections/' + encodeURIComponent(this.collectionIdOrName)
  }

  get baseCrudPath() {
    return this.baseCollectionPath + '/records'
  }

  isAuthRecord(id) {
    const record = this.client.authStore.record
    return (
      !!record &&
      record.id === id &&
      (record.collectionId === this.collectionIdOrName ||
        record.collectionName === this.collectionIdOrName)
    )
  }

  // --- CRUD

  getList(page = 1, perPage = 30, options) {
    options = Object.assign({ method: 'GET' }, options)
    options.query = Object.assign({ page, perPage }, options.query)
    const data = this.client.send(this.baseCrudPath, options)
    data.items = data.items || []
    return data
  }

  getFullList(batchOrOptions, options) {
    let batch = 1000
    if (typeof batchOrOptions === 'number') {
      batch = batchOrOptions
    } else {
      options = Object.assign({}, batchOrOptions, options)
      if (options.batch) {
        batch = options.batch
        delete options.batch
      }
    }
    options = Object.assign({}, options)
    options.query = Object.assign({ skipTotal: 1 }, options.query)

    let result = []
    for (let page = 1; ; page++) {
      const list = this.getList(page, batch, options)
      result = result.concat(list.items)
      if (list.items.length < list.perPage) return result
    }
  }

  getFirstListItem(filter, options) {
    options = Object.assign({}, options)
    options.query = Object.assign({ filter, skipTotal: 1 }, options.query)
    const result = this.getList(1, 1, options)
    if (!result.items.length) {
      throw new ClientResponseError({
        status: 404,
        response: { code: 404, message: "The requested resource wasn't found.", data: {} },
      })
    }
    return result.items[0]
  }

  getOne(id, options) {
    if (!id) {
      throw new ClientResponseError({
        url: this.client.buildURL(this.baseCrudPath + '/'),
        status: 404,
        response: { code: 404, message: 'Missing required record id.', data: {} },
      })
    }
    options = Object.assign({ method: 'GET' }, options)
    return this.client.send(this.baseCrudPath + '/' + encodeURIComponent(id), options)
  }

  create(bodyParams, options) {
    options = Object.assign({ method: 'POST', body: bodyParams }, options)
    return this.client.send(this.baseCrudPath, options)
  }

  update(id, bodyParams, options) {
    options = Object.assign({ method: 'PATCH', body: bodyParams }, options)
    const item = this.client.send(this.baseCrudPath + '/' + encodeURIComponent(id), options)
    if (item && this.isAuthRecord(item.id)) {
      const current = this.client.authStore.record
      const record = Object.assign({}, current, item)
      record.expand = Object.assign({}, current.expand, item.expand)
      this.client.authStore.save(this.client.authStore.token, record)
    }
    return item
  }

  delete(id, options) {
    options = Object.assign({ method: 'DELETE' }, options)
    this.client.send(this.baseCrudPath + '/' + encodeURIComponent(id), options)
    if (this.isAuthRecord(id)) this.client.authStore.clear()
    return true
  }

  // --- auth

  authResponse(data) {
    const record = (data && data.record) || {}
    this.client.authStore.save(data && data.token, record)
    return Object.assign({}, data, { token: (data && data.token) || '', record })
  }

  listAuthMethods(options) {
    options = Object.assign({ method: 'GET', fields: 'mfa,otp,password,oauth2' }, options)
    return this.client.send(this.baseCollectionPath + '/auth-methods', options)
  }

  authWithPassword(usernameOrEmail, password, options) {
    options = Object.assign(
      { method: 'POST', body: { identity: usernameOrEmail, password } },
      options
    )
    delete options.autoRefreshThreshold
    return this.authResponse(this.client.send(this.baseCollectionPath + '/auth-with-password', options))
  }

  authWithOAuth2Code(provider, code, codeVerifier, redirectURL, createData, options) {
    options = Object.assign(
      { method: 'POST', body: { provider, code, codeVerifier, redirectURL, createData } },
      options
    )
    return this.authResponse(this.client.send(this.baseCollectionPath + '/auth-with-oauth2', options))
  }

  authWithOAuth2() {
    throw new Error(
      'authWithOAuth2() needs a browser popup and realtime; on the server use requestOAuth2Login() and signInWithOAuth2(), or authWithOAuth2Code()'
    )
  }

  authRefresh(options) {
    options = Object.assign({ method: 'POST' }, options)
    return this.authResponse(this.client.send(this.baseCollectionPath + '/auth-refresh', options))
  }

  requestOTP(email, options) {
    options = Object.assign({ method: 'POST', body: { email } }, options)
    return this.client.send(this.baseCollectionPath + '/request-otp', options)
  }

  authWithOTP(otpId, password, options) {
    options = Object.assign({ method: 'POST', body: { otpId, password } }, options)
    return this.authResponse(this.client.send(this.baseCollectionPath + '/auth-with-otp', options))
  }

  requestPasswordReset(email, options) {
    options = Object.assign({ method: 'POST', body: { email } }, options)
    this.client.send(this.baseCollectionPath + '/request-password-reset', options)
    return true
  }

  confirmPasswordReset(passwordResetToken, password, passwordConfirm, options) {
    options = Object.assign(
      { method: 'POST', body: { token: passwordResetToken, password, passwordConfirm } },
      options
    )
    this.client.send(this.baseCollectionPath + '/confirm-password-reset', options)
    return true
  }

  requestVerification(email, options) {
    options = Object.assign({ method: 'POST', body: { email } }, options)
    this.client.send(this.baseCollectionPath + '/request-verification', options)
    return true
  }

  confirmVerification(verificationToken, options) {
    options = Object.assign({ method: 'POST', body: { token: verificationToken } }, options)
    this.client.send(this.baseCollectionPath + '/confirm-verification', options)
    const payload = natives.tokenPayload(verificationToken)
    const record = this.client.authStore.record
    if (
      payload && record && !record.verified &&
      record.id === payload.id && record.collectionId === payload.collectionId
    ) {
      record.verified = true
      this.client.authStore.save(this.client.authStore.token, record)
    }
    return true
  }

  requestEmailChange(newEmail, options) {
    options = Object.assign({ method: 'POST', body: { newEmail } }, options)
    this.client.send(this.baseCollectionPath + '/request-email-change', options)
    return true
  }

  confirmEmailChange(emailChangeToken, password, options) {
    options = Object.assign({ method: 'POST', body: { token: emailChangeToken, password } }, options)
    this.client.send(this.baseCollectionPath + '/confirm-email-change', options)
    const payload = natives.tokenPayload(emailChangeToken)
    const record = this.client.authStore.record
    if (payload && record && record.id === payload.id && record.collectionId === payload.collectionId) {
      this.client.authStore.clear()
    }
    return true
  }

  subscribe() {
    throw new Error('subscribe() is not available in a server-side pb() client: use realtime.send() to push to browsers')
  }

  unsubscribe() {
    throw new Error('unsubscribe() is not available in a server-side pb() client')
  }
}

// ---------------------------------------------------------------------------
// FileService: pb.files.

class FileService {
  constructor(client) {
    this.client = client
  }

  getURL(record, filename, queryParams = {}) {
    if (!filename || !record || !record.id || !(record.collectionId || record.collectionName)) {
      return ''
    }
    const parts = [
      'api',
      'files',
      encodeURIComponent(record.collectionId || record.collectionName),
      encodeURIComponent(record.id),
      encodeURIComponent(filename),
    ]
    let result = this.client.buildURL(parts.join('/'))
    queryParams = Object.assign({}, queryParams)
    if (queryParams.download === false) delete queryParams.download
    const params = serializeQueryParams(queryParams)
    if (params) result += (result.includes('?') ? '&' : '?') + params
    return result
  }

  getUrl(record, filename, queryParams) {
    return this.getURL(record, filename, queryParams)
  }

  getToken(options) {
    options = Object.assign({ method: 'POST' }, options)
    const data = this.client.send('/api/files/token', options)
    return (data && data.token) || ''
  }
}

// ---------------------------------------------------------------------------
// Client: what pb() returns.

class PocketBase {
  constructor(baseURL = '/', authStore = null, lang = 'en-US') {
    this.baseURL = baseURL
    this.lang = lang
    this.authStore = authStore || new AuthStore()
    this.files = new FileService(this)
    this.beforeSend = undefined
    this.afterSend = undefined
    this._services = {}
    this._event = undefined // the page request the calls are made for
  }

  get baseUrl() {
    return this.baseURL
  }

  collection(idOrName) {
    if (!this._services[idOrName]) {
      this._services[idOrName] = new RecordService(this, idOrName)
    }
    return this._services[idOrName]
  }

  // No request is ever pending between two statements: nothing to cancel.
  autoCancellation() {
    return this
  }

  cancelRequest() {
    return this
  }

  cancelAllRequests() {
    return this
  }

  filter(raw, params) {
    if (!params) return raw
    const quotify = (val) => {
      switch (typeof val) {
        case 'boolean':
        case 'number':
          return '' + val
        case 'string':
          return JSON.stringify(val)
        default:
          if (val == null) return 'null'
          if (val instanceof Date) return JSON.stringify(val.toISOString().replace('T', ' '))
          const stringified = JSON.stringify(val)
          if (stringified.startsWith('[') || stringified.startsWith('{')) {
            return JSON.stringify(stringified)
          }
          return stringified
      }
    }
    for (const key in params) {
      raw = raw.split('{:' + key + '}').join(quotify(params[key]))
    }
    return raw
  }

  buildURL(path) {
    let url = this.baseURL
    if (path) {
      url += url.endsWith('/') ? '' : '/'
      url += path.startsWith('/') ? path.substring(1) : path
    }
    return url
  }

  getHeader(headers, name) {
    return getHeader(headers, name)
  }

  // send(path, options) → the response JSON; throws ClientResponseError for
  // a 4xx/5xx (as the SDK's send, without the Promise).
  send(path, options) {
    options = Object.assign({ method: 'GET' }, options)
    normalizeUnknownQueryParams(options)
    options.query = Object.assign({}, options.params, options.query)
    delete options.query.$autoCancel
    delete options.query.$cancelKey
    delete options.query.requestKey

    if (getHeader(options.headers, 'Content-Type') === null) {
      options.headers = Object.assign({}, options.headers, { 'Content-Type': 'application/json' })
    }
    if (getHeader(options.headers, 'Accept-Language') === null) {
      options.headers = Object.assign({}, options.headers, { 'Accept-Language': this.lang })
    }
    if (this.authStore.token && getHeader(options.headers, 'Authorization') === null) {
      options.headers = Object.assign({}, options.headers, { Authorization: this.authStore.token })
    }

    let url = this.buildURL(path)
    if (this.beforeSend) {
      const result = Object.assign({}, this.beforeSend(url, options))
      if (typeof result.url !== 'undefined' || typeof result.options !== 'undefined') {
        url = result.url || url
        options = result.options || options
      }
    }

    let target = '/' + (path || '').replace(/^\/+/, '')
    const query = serializeQueryParams(options.query || {})
    if (query) {
      url += (url.includes('?') ? '&' : '?') + query
      target += (target.includes('?') ? '&' : '?') + query
    }

    let body = options.body
    if (body !== undefined && body !== null && typeof body !== 'string') {
      body = JSON.stringify(body)
    }

    let res
    try {
      res = natives.send(this._event, String(options.method).toUpperCase(), target, options.headers, body)
    } catch (err) {
      throw new ClientResponseError({ url, status: 0, response: { message: String(err && err.message || err) }, originalError: err })
    }

    let data = res.data === undefined ? {} : res.data
    if (this.afterSend) {
      data = this.afterSend({ url, status: res.status }, data, options)
    }
    if (res.status >= 400) {
      throw new ClientResponseError({ url, status: res.status, data })
    }
    return data
  }
}

// ---------------------------------------------------------------------------
// The plugin.

function jsSdkPluginFactory(config, extra) {
  const { globalApi } = config
  const dbg = config.dbg || (() => {})
  const defaultHost = (extra && extra.host) || '/'

  // newClient builds a client for options ({host, auth, request}); request
  // is the page's own request, if any.
  const newClient = (options, request) => {
    options = options || {}
    const host = options.host || defaultHost
    const from = options.request || request
    const explicitAuth = Object.prototype.hasOwnProperty.call(options, 'auth')
    const auth = explicitAuth ? options.auth : from && from.auth

    const client = new PocketBase(host)
    client._event = from && from.event
    if (auth) {
      // The request's own token when the client acts as the request's
      // user; a fresh one for any other record (as PocketPages does).
      const sameAsRequest = from && from.auth && from.authToken && from.auth.id === auth.id
      const token = sameAsRequest ? from.authToken : natives.newAuthToken(auth)
      client.authStore.save(token, JSON.parse(JSON.stringify(auth)))
      dbg(`pb(): client for ${host} as ${auth.id}`)
    } else {
      dbg(`pb(): client for ${host} without auth`)
    }
    return client
  }

  const cacheKey = (options, request) => {
    options = options || {}
    const from = options.request || request
    const auth = Object.prototype.hasOwnProperty.call(options, 'auth') ? options.auth : from && from.auth
    // The token is part of the key: an upgrade or sign-in in the same
    // request gives the page a new one, and the old one may be dead.
    return `${options.host || defaultHost}-${auth ? auth.id : ''}-${(from && from.authToken) || ''}`
  }

  // Outside a request (or in code that only has globalApi): a new client
  // per call, so nothing is shared between requests.
  globalApi.pb = (options) => newClient(options, undefined)

  return {
    name: 'js-sdk',
    onExtendContextApi: ({ api }) => {
      const cache = new Map()
      api.pb = (options) => {
        const key = cacheKey(options, api.request)
        if (!cache.has(key)) cache.set(key, newClient(options, api.request))
        return cache.get(key)
      }
    },
  }
}

module.exports = jsSdkPluginFactory
module.exports.default = jsSdkPluginFactory
module.exports.PocketBase = PocketBase
module.exports.ClientResponseError = ClientResponseError
