package anonauth

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/tools/router"
)

// Every error this package returns to a caller is a *router.ApiError, so the
// HTTP layer writes PocketBase's {status, message, data} shape and the JS layer
// can expose the same status and message to scripts.

func errCollectionNotFound(name string) *router.ApiError {
	return router.NewNotFoundError("Missing collection "+strconv.Quote(name)+".", nil)
}

func errNotAuthCollection(name string) *router.ApiError {
	return router.NewBadRequestError("Collection "+strconv.Quote(name)+" is not an auth collection.", nil)
}

func errNotEnabled(name string) *router.ApiError {
	return router.NewForbiddenError("Anonymous sign-in is not enabled for collection "+strconv.Quote(name)+".", nil)
}

func errAlreadySignedIn() *router.ApiError {
	return router.NewBadRequestError("You are already signed in with a non-anonymous account. Sign out first to continue as a guest.", nil)
}

func errNoUniqueEmail(attempts int) *router.ApiError {
	return router.NewApiError(http.StatusConflict, "Could not generate a unique guest email or other generated value after "+strconv.Itoa(attempts)+" attempts; check the email generator and autogenerate patterns.", nil)
}

func errDuplicateCookie(name string) *router.ApiError {
	return router.NewUnauthorizedError("The request carries more than one "+name+" session cookie, so none of them is trusted (one may have been set by another site on a parent domain or for a narrower path). Clear this site's cookies and sign in again.", nil)
}

// RateLimitError is returned when a client IP made too many anonymous
// sign-ins. It is a *router.ApiError (429) that also knows when to retry.
type RateLimitError struct {
	*router.ApiError
	RetryAfter time.Duration
}

func errRateLimited(retryAfter time.Duration) *RateLimitError {
	return &RateLimitError{
		ApiError:   router.NewTooManyRequestsError("Too many anonymous sign-ins from this address. Try again in "+retryAfterSeconds(retryAfter)+" seconds.", nil),
		RetryAfter: retryAfter,
	}
}

// Unwrap lets errors.As find the embedded *router.ApiError, which is what
// PocketBase's error handler and the JS bindings look for.
func (e *RateLimitError) Unwrap() error { return e.ApiError }

// retryAfterSeconds rounds up, as Retry-After takes whole seconds and "0"
// would invite an immediate retry that is still refused.
func retryAfterSeconds(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}
