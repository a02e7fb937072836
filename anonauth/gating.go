package anonauth

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Gating: guests are authenticated, so every rule or route that only asks
// "is someone signed in" lets them through. Gate what a guest must not do
// (payments, exports, invitations, admin actions) on the flag:
//
// In collection API rules (Dashboard > Collection > API Rules):
//
//	@request.auth.id != "" && @request.auth.isAnonymous = false    full accounts only
//	@request.auth.id != "" && (@request.auth.isAnonymous = false || status = "draft")
//	                                                                guests: drafts only
//
// Superusers bypass rules as always. A rule is only as good as its weakest
// action: gate create, update and delete alike when all of them matter.
//
// In Go routes, the RequireFullAccount middleware:
//
//	se.Router.POST("/api/checkout", handler).Bind(anonauth.RequireFullAccount())

// RequireFullAccountId is the id of the RequireFullAccount middleware.
const RequireFullAccountId = "pocketguestRequireFullAccount"

// RequireFullAccount returns a middleware that lets through only requests
// authenticated as a regular (non-anonymous) record or a superuser, like
// PocketBase's apis.RequireAuth(): 401 without auth, 403 for a guest (with a
// message that tells the client to upgrade). Optional collection names
// restrict which auth collections are accepted (superusers always are).
func RequireFullAccount(optCollectionNames ...string) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id: RequireFullAccountId,
		Func: func(e *core.RequestEvent) error {
			if e.Auth == nil {
				return e.UnauthorizedError("The request requires valid record authorization token.", nil)
			}
			if e.HasSuperuserAuth() {
				return e.Next()
			}
			if len(optCollectionNames) > 0 && !containsCollection(optCollectionNames, e.Auth.Collection()) {
				return e.ForbiddenError("The authorized record is not allowed to perform this action.", nil)
			}
			if IsAnonymous(e.Auth) {
				return errGuestForbidden()
			}
			return e.Next()
		},
	}
}

func errGuestForbidden() *router.ApiError {
	return router.NewForbiddenError("This action requires a full account: upgrade the anonymous account first.", nil)
}

func containsCollection(names []string, c *core.Collection) bool {
	for _, n := range names {
		if n == c.Name || n == c.Id {
			return true
		}
	}
	return false
}
