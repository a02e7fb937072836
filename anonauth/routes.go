package anonauth

import (
	"errors"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cast"
)

// registerRoutes binds the HTTP endpoints, under the same
// /api/collections/{collection}/ prefix as PocketBase's own auth routes.
func (p *Plugin) registerRoutes() {
	p.app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		// A storage fault (disk full, read-only, locked) answers 503, not
		// PocketBase's generic 400 (faults.go).
		se.Router.POST("/api/collections/{collection}/auth-anonymously", unavailableOnStorageFault(p.handleSignIn))
		se.Router.POST("/api/collections/{collection}/upgrade-anonymous", unavailableOnStorageFault(p.handleUpgrade))
		se.Router.POST("/api/collections/{collection}/upgrade-anonymous/request-otp", unavailableOnStorageFault(p.handleRequestUpgradeOTP))
		se.Router.POST("/api/collections/{collection}/upgrade-anonymous/confirm-otp", unavailableOnStorageFault(p.handleConfirmUpgradeOTP))
		se.Router.POST("/api/collections/{collection}/delete-anonymous", unavailableOnStorageFault(p.handleDelete))
		se.Router.GET("/api/collections/{collection}/anonymous-challenge", p.handleChallenge)
		se.Router.GET(widgetPath, handleWidget)
		return se.Next()
	})
}

// signInBody is the optional JSON/form body of auth-anonymously.
type signInBody struct {
	Fresh bool `json:"fresh" form:"fresh"`
}

// handleSignIn is POST /api/collections/{collection}/auth-anonymously.
//
// No body is needed. {"fresh": true} (or ?fresh=true) asks for a new guest
// even when the request already carries a guest session of this collection.
func (p *Plugin) handleSignIn(e *core.RequestEvent) error {
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return err // the answer sets the session cookie (login CSRF)
	}
	var body signInBody
	if e.Request.ContentLength != 0 {
		if err := e.BindBody(&body); err != nil {
			return e.BadRequestError("Failed to read the request body: expected a JSON object like {\"fresh\": true} or no body at all.", err)
		}
	}
	if q := e.Request.URL.Query().Get("fresh"); q != "" {
		body.Fresh = cast.ToBool(q)
	}

	record, err := p.signInRecord(e, SignInOptions{
		Collection: e.Request.PathValue("collection"),
		Fresh:      body.Fresh,
	})
	if err != nil {
		var rl *RateLimitError
		if errors.As(err, &rl) {
			e.Response.Header().Set("Retry-After", retryAfterSeconds(rl.RetryAfter))
			return rl.ApiError
		}
		if ce, ok := err.(*ChallengeError); ok {
			return ce.ApiError // Retry-After is set by checkChallenge
		}
		return err
	}

	// The auth response hook swaps in the guest-lifetime token and, because
	// of this flag, sets the pb_auth cookie; OnRecordAuthRequest hooks fire as
	// for any PocketBase sign-in.
	e.Set(setCookieKey, true)

	//
	// The auth method is "" (as for auth-refresh), not a new name: PocketBase
	// would otherwise demand a second MFA factor a guest cannot have, and send
	// a new-login alert email to the placeholder address. Hooks tell a guest
	// sign-in by e.Record.GetBool("isAnonymous").
	return apis.RecordAuthResponse(e, record, "", nil)
}
