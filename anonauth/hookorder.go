package anonauth

import "github.com/pocketbase/pocketbase/apis"

// The order of our hooks around PocketBase's own is the real architecture
// of this plugin, so every priority is named here, with why it sits where
// it does. Lower runs first; handlers bound without a priority (app hooks,
// pb_hooks) have 0 and run in bind order.
const (
	// --- Router middlewares (every request) ---

	// priorityCookieSession: just before PocketBase's pbLoadAuthToken, so
	// the pb_auth cookie's token, copied into the Authorization header, is
	// verified by PocketBase itself (auth tokens only, expiry, token key)
	// and e.Auth, the rules engine and every hook see the session as usual.
	priorityCookieSession = apis.DefaultLoadAuthTokenMiddlewarePriority - 1

	// priorityActivity: right after pbLoadAuthToken (e.Auth is known) and
	// before everything that may fail the request: a refused request from a
	// live session is still activity.
	priorityActivity = apis.DefaultLoadAuthTokenMiddlewarePriority + 1

	// prioritySlidingSession: after the activity middleware (a renewed
	// guest has been noted as active) and before the route, which may set
	// or clear the pb_auth cookie itself: the renewal, added when the
	// response is written, then leaves that cookie alone (sliding.go).
	prioritySlidingSession = apis.DefaultLoadAuthTokenMiddlewarePriority + 2

	// --- OnRecordAuthRequest (every auth response: sign-in, refresh, ours) ---

	// priorityLinkOnSignIn: before priorityAuthResponse, so the merge
	// transaction wraps the cookie that handler sets, and a failed merge
	// drops that cookie with everything else.
	priorityLinkOnSignIn = 90

	// priorityAuthResponse: late, so app hooks that replace e.Record or
	// e.Token have run when the guest token is re-signed and the pb_auth
	// cookie written.
	priorityAuthResponse = 100

	// --- OnRecordAuthWithOAuth2Request ---

	// priorityOAuth2WithGuest: late, so app handlers that pick e.Record
	// themselves run first; it still runs before PocketBase's own handler
	// (the chain's final func), which links the identity.
	priorityOAuth2WithGuest = 100

	// --- OnLink (our own hook) ---

	// priorityConfigOnLink: Config.OnLink before handlers bound later with
	// the default priority (JS onAnonymousLink, Go code).
	priorityConfigOnLink = -100

	// --- OnRecordCreateExecute / OnRecordUpdateExecute ---
	// PocketBase's system handler that validates and writes the row sits at
	// 99 ("as late as possible, to minimize the transaction lock time").

	// priorityFastPathEnter: after user hooks, before PocketBase's system
	// handler (99), which is the only one that sees the cached-collections
	// app it lends (fastpath.go).
	priorityFastPathEnter = 98

	// priorityFastPathReturn: right after the system handler's validation,
	// before the write: the real app is given back.
	priorityFastPathReturn = 100

	// priorityRelationGuard: last, right before the row is written, so only
	// the write and the re-count of guest relation targets are inside its
	// transaction (relguard.go).
	priorityRelationGuard = 101
)
