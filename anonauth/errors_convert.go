package anonauth

import (
	"errors"
	"net/http"
	"strconv"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Errors of the conversion paths (upgrade, link, delete). Like errors.go they
// are all *router.ApiError, so HTTP and JS callers see the same status,
// message and field-level data.

func errNoAuth() *router.ApiError {
	return router.NewUnauthorizedError("The request requires an anonymous session (auth token or pb_auth cookie).", nil)
}

func errWrongCollection(got, want string) *router.ApiError {
	return router.NewUnauthorizedError("The session belongs to collection "+strconv.Quote(got)+", not "+strconv.Quote(want)+".", nil)
}

func errNotAnonymous() *router.ApiError {
	return router.NewBadRequestError("User is not anonymous.", nil)
}

// errAlreadyConverted is what the loser of two concurrent conversions of the
// same guest gets: by the time its transaction runs, the record is no longer
// anonymous. Same status as errNotAnonymous (that is what the caller now is),
// with a message that says why.
func errAlreadyConverted() *router.ApiError {
	return router.NewBadRequestError(msgAlreadyConverted, nil)
}

func errGuestGone() *router.ApiError {
	return router.NewNotFoundError(msgGuestGone, nil)
}

const (
	msgAlreadyConverted = "User is not anonymous: the guest account was just upgraded or merged by another request. Sign in again."
	msgGuestGone        = "The anonymous account no longer exists (deleted or merged by another request)."
)

// isStaleGuest reports whether err says the guest changed under a request
// (converted, merged or deleted by a concurrent one).
func isStaleGuest(err error) bool {
	var apiErr *router.ApiError
	return errors.As(err, &apiErr) && (apiErr.Message == msgAlreadyConverted || apiErr.Message == msgGuestGone)
}

func errDeleteDisabled() *router.ApiError {
	return router.NewNotFoundError("Deleting anonymous accounts is disabled.", nil)
}

func errLinkInvalid(reason string) *router.ApiError {
	return router.NewBadRequestError("Cannot link the anonymous account: "+reason, nil)
}

// errUnprocessable is the 422 of an invalid upgrade form, with PocketBase's
// field-level data ({"email": {"code": ..., "message": ...}}).
func errUnprocessable(data validation.Errors) *router.ApiError {
	return router.NewApiError(http.StatusUnprocessableEntity, "Failed to upgrade the anonymous account.", data)
}

// errEmailInUse is the 409 of an upgrade to an email that another account
// already has. data carries the email error and any other field errors, so a
// form can show them all at once.
func errEmailInUse(data validation.Errors) *router.ApiError {
	if data == nil {
		data = validation.Errors{}
	}
	if _, ok := data[core.FieldNameEmail]; !ok {
		data[core.FieldNameEmail] = validation.NewError("validation_not_unique", "Email already in use.")
	}
	return router.NewApiError(http.StatusConflict, "Email already in use.", data)
}

// upgradeSaveError maps the error of validating or saving an upgraded record
// to the documented statuses: 409 when the email is taken, 422 for any other
// field error, the error itself (500 by PocketBase's handler) otherwise.
func upgradeSaveError(err error) error {
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		return apiErr
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
