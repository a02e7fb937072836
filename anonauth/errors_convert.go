package anonauth

import (
	"errors"
	"net/http"
	"strconv"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Sentinel errors of the conversion paths (upgrade, OAuth2, link, delete).
//
// What these paths return is still a *router.ApiError for errors.As (so the
// HTTP layer writes PocketBase's {status, message, data} and the JS layer
// throws the same status and message), and errors.Is matches the sentinel,
// so no caller ever needs to compare messages:
//
//	if errors.Is(err, anonauth.ErrGuestGone) {
//		// a concurrent request already merged or deleted the guest
//	}
var (
	// ErrNoSession: the request carries no session at all (401).
	ErrNoSession = errors.New("anonauth: the request has no guest session")

	// ErrWrongCollection: the session belongs to another collection than
	// the one asked for (401).
	ErrWrongCollection = errors.New("anonauth: the session belongs to another collection")

	// ErrNotAnonymous: the record is not a guest (any more), or not one of
	// an enabled collection (400).
	ErrNotAnonymous = errors.New("anonauth: not an anonymous account")

	// ErrAlreadyConverted: the guest was upgraded or merged by a concurrent
	// request between loading the session and taking the write lock (400).
	// It also matches ErrNotAnonymous: that is what the caller now is.
	ErrAlreadyConverted = errors.New("anonauth: the guest was just converted by another request")

	// ErrGuestGone: the guest record no longer exists (deleted or merged by
	// a concurrent request) (404).
	ErrGuestGone = errors.New("anonauth: the guest no longer exists")

	// ErrDeleteDisabled: Config.DisableDelete is set (404).
	ErrDeleteDisabled = errors.New("anonauth: deleting guests is disabled")

	// ErrLinkInvalid: Link was called with records that cannot be merged
	// (missing, the same record, another collection, two guests) (400).
	ErrLinkInvalid = errors.New("anonauth: invalid link")

	// ErrEmailInUse: an upgrade to an email another account has (409).
	ErrEmailInUse = errors.New("anonauth: email already in use")

	// ErrSkipMerge is not a failure: an OnLink handler (Config.OnLink
	// included) returns it to refuse a merge and let the sign-in go on, as
	// a handler that does not call e.Next() does. The guest stays as it is.
	ErrSkipMerge = errors.New("anonauth: merge skipped by an OnLink handler")

	// ErrMergeTooLarge: a merge would move more records than
	// Config.MaxMergeRecords in one transaction (409).
	ErrMergeTooLarge = errors.New("anonauth: too many records to merge")
)

// sentinelError is a *router.ApiError that errors.Is also matches against
// one or more of the sentinels above.
type sentinelError struct {
	*router.ApiError
	kinds []error
}

// Unwrap exposes the ApiError (for errors.As) and the sentinels (for
// errors.Is). Error() is the ApiError's, i.e. its message.
func (e *sentinelError) Unwrap() []error {
	return append([]error{e.ApiError}, e.kinds...)
}

func withSentinel(apiErr *router.ApiError, kinds ...error) error {
	return &sentinelError{ApiError: apiErr, kinds: kinds}
}

func errNoAuth() error {
	return withSentinel(router.NewUnauthorizedError("The request requires an anonymous session (auth token or pb_auth cookie).", nil), ErrNoSession)
}

func errWrongCollection(got, want string) error {
	return withSentinel(router.NewUnauthorizedError("The session belongs to collection "+strconv.Quote(got)+", not "+strconv.Quote(want)+".", nil), ErrWrongCollection)
}

func errNotAnonymous() error {
	return withSentinel(router.NewBadRequestError("User is not anonymous.", nil), ErrNotAnonymous)
}

// errAlreadyConverted is what the loser of two concurrent conversions of the
// same guest gets: by the time its transaction runs, the record is no longer
// anonymous. Same status as errNotAnonymous (that is what the caller now is),
// with a message that says why.
func errAlreadyConverted() error {
	return withSentinel(router.NewBadRequestError("User is not anonymous: the guest account was just upgraded or merged by another request. Sign in again.", nil),
		ErrAlreadyConverted, ErrNotAnonymous)
}

func errGuestGone() error {
	return withSentinel(router.NewNotFoundError("The anonymous account no longer exists (deleted or merged by another request).", nil), ErrGuestGone)
}

// isStaleGuest reports whether err says the guest changed under a request
// (converted, merged or deleted by a concurrent one).
func isStaleGuest(err error) bool {
	return errors.Is(err, ErrAlreadyConverted) || errors.Is(err, ErrGuestGone)
}

func errDeleteDisabled() error {
	return withSentinel(router.NewNotFoundError("Deleting anonymous accounts is disabled.", nil), ErrDeleteDisabled)
}

func errLinkInvalid(reason string) error {
	return withSentinel(router.NewBadRequestError("Cannot link the anonymous account: "+reason, nil), ErrLinkInvalid)
}

// errMergeTooLarge refuses a merge that would hold the write lock for too
// long (Config.MaxMergeRecords). The message says what the user can do.
func errMergeTooLarge(limit int) error {
	return withSentinel(router.NewApiError(http.StatusConflict,
		"The guest session holds more than "+strconv.Itoa(limit)+" records, too many to merge into the account at once. "+
			"Sign out of the guest session to sign in without merging it.", nil), ErrMergeTooLarge)
}

// errUnprocessable is the 422 of an invalid upgrade form, with PocketBase's
// field-level data ({"email": {"code": ..., "message": ...}}).
func errUnprocessable(data validation.Errors) *router.ApiError {
	return router.NewApiError(http.StatusUnprocessableEntity, "Failed to upgrade the anonymous account.", data)
}

// errEmailInUse is the 409 of an upgrade to an email that another account
// already has. data carries the email error and any other field errors, so a
// form can show them all at once.
func errEmailInUse(data validation.Errors) error {
	if data == nil {
		data = validation.Errors{}
	}
	if _, ok := data[core.FieldNameEmail]; !ok {
		data[core.FieldNameEmail] = validation.NewError("validation_not_unique", "Email already in use.")
	}
	return withSentinel(router.NewApiError(http.StatusConflict, "Email already in use.", data), ErrEmailInUse)
}

// upgradeSaveError maps the error of validating or saving an upgraded record
// to the documented statuses: 409 when the email is taken, 422 for any other
// field error, the error itself (500 by PocketBase's handler) otherwise.
func upgradeSaveError(err error) error {
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		return err // keeps any sentinel around the ApiError
	}
	var verrs validation.Errors
	if !errors.As(err, &verrs) {
		return err
	}
	if isEmailConflict(err) {
		return errEmailInUse(verrs)
	}
	return errUnprocessable(verrs)
}
