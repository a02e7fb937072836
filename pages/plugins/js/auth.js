// pocketpages-plugin-auth, built into PocketGuest.
//
// Adds PocketPages' account helpers to every page (same names, same
// argument order):
//
//   createUser(email, password, {collection = 'users', sendVerificationEmail = true}) → user
//   createAnonymousUser({collection}) → {email, user, token}
//   createPaswordlessUser(email, {collection, sendVerificationEmail}) → {password, user}
//     (PocketPages' spelling; createPasswordlessUser is the same function)
//   requestVerification(email, {collection})
//   confirmVerification(token, {collection})
//
// and, with PocketPages' behaviour, registerWithPassword (createUser, so a
// verification email by default, then sign-in), requestOTP (creates the
// account first when the email has none: OTP sign-up) and
// requestOAuth2Login (confirm page /auth/oauth/confirm by default).
//
// The sign-in helpers themselves (signInWithPassword, signInAnonymously,
// signInWithOTP, signInWithOAuth2, signIn, signOut) are PocketGuest's own page
// globals, which this plugin keeps: they set an HttpOnly cookie and convert
// guests. The cookie is read by PocketGuest for every route, so this plugin
// has no onRequest.
//
// Guest-aware: when the request's user is a guest of the collection,
// createUser (and so registerWithPassword and createPaswordlessUser)
// upgrades that guest in place — same record id, so everything the guest
// owns stays theirs — instead of creating a second account.
//
// Needs pocketpages-plugin-js-sdk (pb()), as in PocketPages.

const natives = __pocketguestPlugins

function randomDigits(length) {
  return $security.randomStringWithAlphabet(length, '123456789')
}

function collectionOf(options) {
  return (options && options.collection) || 'users'
}

// plain copies a record (Go or JS) into a plain object, like a record from
// the SDK.
function plain(record) {
  return record && JSON.parse(JSON.stringify(record))
}

function authPluginFactory(config) {
  const { globalApi } = config
  const dbg = config.dbg || (() => {})

  // helpers builds the functions for one api: a request's (guest-aware, acts
  // as the request's user) or the global one (no request).
  const helpers = (api) => {
    const pb = (options) => {
      const fn = api.pb || globalApi.pb
      if (typeof fn !== 'function') {
        throw new Error('pocketpages-plugin-auth needs pocketpages-plugin-js-sdk in the plugins of +config.js')
      }
      return fn(options)
    }

    const request = api.request
    const isGuest = (collection) => !!(request && request.auth && natives.isGuest(request.auth, collection))

    const requestVerification = (email, options) => {
      pb().collection(collectionOf(options)).requestVerification(email)
    }

    const confirmVerification = (token, options) => {
      pb().collection(collectionOf(options)).confirmVerification(token)
    }

    // createAccount creates the account, or upgrades the request's guest;
    // authData is the new session when it did the latter.
    const createAccount = (email, password, options) => {
      if (!String(email || '').trim()) throw new Error('Email is required')
      if (!String(password || '').trim()) throw new Error('Password is required')
      const collection = collectionOf(options)
      const wantsMail = !options || options.sendVerificationEmail === undefined || !!options.sendVerificationEmail

      if (isGuest(collection)) {
        const upgrade = api.upgradeAnonymous || globalThis.upgradeAnonymous
        const authData = upgrade({ email, password, passwordConfirm: password })
        const user = plain(authData.record)
        if (user && !user.email) user.email = email
        dbg(`upgraded guest ${user && user.id} to an account`)
        // The upgrade mails the verification itself when SMTP is set up.
        if (wantsMail && !natives.upgradeSendsVerification()) requestVerification(email, options)
        return { user, authData }
      }

      const user = pb().collection(collection).create({ email, password, passwordConfirm: password })
      dbg(`created user: ${user.id}`)
      if (wantsMail) requestVerification(email, options)
      return { user, authData: null }
    }

    const createUser = (email, password, options) => createAccount(email, password, options).user

    const createPaswordlessUser = (email, options) => {
      const password = randomDigits(40)
      return { password, user: createUser(email, password, options) }
    }

    const createAnonymousUser = (options) => {
      const collection = collectionOf(options)
      let authData
      try {
        authData = pb({ auth: null }).send(
          `/api/collections/${encodeURIComponent(collection)}/auth-anonymously`,
          { method: 'POST', body: { fresh: true } }
        )
      } catch (e) {
        if (e && e.status === 404) {
          throw new Error(`createAnonymousUser: guest accounts are not enabled for the collection "${collection}"`)
        }
        throw e
      }
      return { email: authData.record.email, user: authData.record, token: authData.token }
    }

    return {
      createUser,
      createAccount,
      createAnonymousUser,
      createPaswordlessUser,
      requestVerification,
      confirmVerification,
      pb,
    }
  }

  // The global versions (code without a request: no guest, no user).
  const global = helpers(globalApi)
  globalApi.createUser = global.createUser
  globalApi.createAnonymousUser = global.createAnonymousUser
  globalApi.createPaswordlessUser = global.createPaswordlessUser
  globalApi.createPasswordlessUser = global.createPaswordlessUser
  globalApi.requestVerification = global.requestVerification
  globalApi.confirmVerification = global.confirmVerification

  return {
    name: 'auth',
    onExtendContextApi: ({ api }) => {
      const h = helpers(api)
      api.createUser = h.createUser
      api.createAnonymousUser = h.createAnonymousUser
      api.createPaswordlessUser = h.createPaswordlessUser
      api.createPasswordlessUser = h.createPaswordlessUser
      api.requestVerification = h.requestVerification
      api.confirmVerification = h.confirmVerification

      // registerWithPassword as in PocketPages: createUser (verification
      // email unless sendVerificationEmail is false), then sign in. A guest
      // is upgraded and already signed in as the account.
      api.registerWithPassword = (email, password, options) => {
        const { authData } = h.createAccount(email, password, options)
        return authData || api.signInWithPassword(email, password, options)
      }

      // requestOTP as in PocketPages: an email without an account gets one
      // (random password), so the code signs the visitor up. That account is
      // never the request's guest: the email is not proven until the code is
      // entered, and signing in then merges the guest into it.
      const engineRequestOTP = api.requestOTP
      api.requestOTP = (email, options) => {
        try {
          const password = randomDigits(40)
          h.pb({ auth: null })
            .collection(collectionOf(options))
            .create({ email, password, passwordConfirm: password })
        } catch (e) {
          // most likely the account exists already
        }
        return engineRequestOTP
          ? engineRequestOTP(email, options)
          : h.pb().collection(collectionOf(options)).requestOTP(email)
      }

      const engineOAuth2Login = api.requestOAuth2Login
      if (engineOAuth2Login) {
        api.requestOAuth2Login = (providerName, options) =>
          engineOAuth2Login(providerName, { redirectPath: '/auth/oauth/confirm', ...options })
      }
    },
  }
}

module.exports = authPluginFactory
module.exports.default = authPluginFactory
