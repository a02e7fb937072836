/// <reference path="../../../pb_data/types.d.ts" />

// Test-only hooks (the shipped example is copied next to this file).

// An uncaught error keeps its HTTP status.
routerAdd("POST", "/api/test/uncaught", (e) => {
  signInAnonymously(e, { collection: e.request.url.query().get("c") })
  return e.json(200, { unexpected: true })
})

// Bad arguments are catchable errors, never a crash.
routerAdd("GET", "/api/test/bad-args", (e) => {
  const out = []
  for (const args of [[], [null], [{}], ["nope"], [e, 42], [e, { collection: 7 }], [e, { fresh: "yes" }]]) {
    try {
      signInAnonymously(...args)
      out.push("no error")
    } catch (err) {
      out.push(err.status + " " + err.message)
    }
  }
  return e.json(200, out)
})

// The user's own OnInit globals still exist next to ours.
routerAdd("GET", "/api/test/globals", (e) => {
  return e.json(200, {
    signInAnonymously: typeof signInAnonymously,
    signOut: typeof signOut,
    upgradeAnonymous: typeof upgradeAnonymous,
    deleteAnonymous: typeof deleteAnonymous,
    onAnonymousLink: typeof onAnonymousLink,
    userGlobal: typeof userGlobal === "undefined" ? null : userGlobal,
  })
})

// upgradeAnonymous from a route: {token, record} of the upgraded account
// (its pb_auth cookie is rewritten by the call).
routerAdd("POST", "/api/test/upgrade", (e) => {
  return e.json(200, upgradeAnonymous(e, e.requestInfo().body))
})
