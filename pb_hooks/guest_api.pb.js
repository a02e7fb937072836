/// <reference path="../pb_data/types.d.ts" />

// A JSON guest sign-in for a mobile (or any non-browser) client, built on the
// signInAnonymously(e, options) global that PocketGuest adds to every hook VM.
//
//   POST /api/guest/start  {"collection": "users"}  (collection optional)
//   → 200 {token, record, isAnonymous}      + a pb_auth cookie for browsers
//   → 4xx {status, message}                 unknown collection, not enabled,
//                                           rate limited (429), ...
//
// The built-in POST /api/collections/{collection}/auth-anonymously does the
// same; this route shows how to add your own logic around a guest sign-in
// (here: remember the app version the guest started with).
routerAdd("POST", "/api/guest/start", (e) => {
  const body = e.requestInfo().body
  try {
    const auth = signInAnonymously(e, { collection: body.collection || "users" })

    if (body.appVersion && auth.record.collection().fields.getByName("appVersion")) {
      auth.record.set("appVersion", body.appVersion)
      $app.save(auth.record)
    }

    return e.json(200, {
      token: auth.token,
      record: auth.record,
      isAnonymous: auth.record.get("isAnonymous"),
    })
  } catch (err) {
    // err.status is the HTTP status of the failure, err.message says why.
    return e.json(err.status || 400, { status: err.status, message: err.message })
  }
})

// Sign-out for cookie sessions: expires the pb_auth cookie.
routerAdd("POST", "/api/guest/sign-out", (e) => {
  signOut(e)
  return e.json(200, { signedOut: true })
})
