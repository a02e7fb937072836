package anonauth

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/ozzo-validation/v4/is"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/mails"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/security"
)

// Passwordless upgrade by email code.
//
// A guest gives an email address and gets a one-time code there; entering
// the code proves the address, and proof of an address is enough:
//
//   - a new address: the guest becomes a full account in place (same id,
//     email set, verified=true, token key rotated, no password: it signs in
//     again with a code or sets a password through a reset);
//   - the address of an existing account: proving it is what PocketBase's
//     own OTP sign-in asks of that account, so it is that sign-in, and the
//     guest is merged into the account exactly as when it signs in with the
//     guest session (OnLink, relations transferred, guest deleted).
//
// Both answer the request the same way ({otpId}, one mail sent), so the
// request never reveals whether an account exists.
//
// It is PocketBase's OTP, not a copy: an OTP row in _otps (the collection's
// OTP duration and length), the collection's OTP mail template through
// mails.SendRecordOTP (OnMailerRecordOTPSend fires), PocketBase's "reuse
// the last code after 10" rule for an account, and its limit of 5 wrong
// codes per 3 minutes. Differences, and why:
//
//   - The mail is sent before answering, not in the background: a mail
//     server that fails must fail the request (the OTP is deleted again), or
//     the guest waits for a code that never comes.
//   - The OTP of a new address belongs to the guest (recordRef) and carries
//     the address in sentTo, set before sending: the address the code proves
//     is the one the guest asked for, whatever a mail hook does.
//   - A guest may request at most otpRequestsPerWindow codes per
//     otpRequestWindow, whatever the addresses (PocketBase's per-record
//     rule counts per target, so a guest could mail 10 codes to every
//     address on the internet).

const (
	otpRequestsPerWindow = 5
	otpRequestWindow     = 10 * time.Minute

	// PocketBase's limit on OTP attempts (apis.recordAuthWithOTP).
	otpAttemptsPerWindow = 5
	otpAttemptWindow     = 3 * time.Minute

	// PocketBase reuses an account's last code after this many live ones.
	otpMaxLive = 10

	// AuthMethodOTP is the method of a conversion by code in the audit
	// trail (anonymousEvents.reason) and of the sign-in of a code merge.
	AuthMethodOTP = core.MFAMethodOTP
)

// RequestUpgradeOTP mails a one-time code to email for the request's guest
// and returns the OTP id to confirm it with (ConfirmUpgradeOTP). The answer
// is the same whether or not an account has that address (see above).
//
// Errors (*router.ApiError): 401 no session, 400 not a guest, 403 OTP
// disabled on the collection, 422 malformed email (before anything is sent),
// 429 too many codes for this guest, 500 the mail could not be sent (nothing
// is left behind).
func (p *Plugin) RequestUpgradeOTP(e *core.RequestEvent, email string) (otpId string, err error) {
	guest, err := p.requestGuest(e, "")
	if err != nil {
		return "", err
	}
	return p.requestUpgradeOTP(e, guest, email)
}

func (p *Plugin) requestUpgradeOTP(e *core.RequestEvent, guest *core.Record, email string) (string, error) {
	collection := guest.Collection()
	if !collection.OTP.Enabled {
		return "", errOTPDisabled()
	}

	email = strings.TrimSpace(email)
	if err := p.validateOTPEmail(e.App, guest, email); err != nil {
		return "", err
	}

	if delay := p.otpRequests.reserve(guest.Id); delay > 0 {
		return "", router.NewTooManyRequestsError("Too many codes requested. Try again in "+retryAfterSeconds(delay)+" seconds.", nil)
	}
	// A code request sends a mail: with bot protection on it needs a solved
	// challenge too (challenge.go), checked after the limit as for sign-ins.
	if err := p.checkChallenge(e, collection); err != nil {
		return "", err
	}

	owner, err := e.App.FindAuthRecordByEmail(collection, email)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}

	switch {
	case owner == nil:
		// A new address: the code is the guest's, the mail goes to the
		// account it is about to become.
		future := guest.Clone()
		future.SetEmail(email)
		future.Set(FieldIsAnonymous, false)
		return p.sendOTP(e.App, guest, future, email)
	case IsAnonymous(owner):
		// Another guest's placeholder (or this one's): nothing can be
		// proven there. Answer as PocketBase does for an unknown address.
		return core.GenerateDefaultRandomId(), nil
	default:
		// An account: the code signs in to it, as PocketBase's request-otp.
		if otp := p.reusableOTP(e.App, owner); otp != nil {
			return otp.Id, nil
		}
		return p.sendOTP(e.App, owner, owner, owner.Email())
	}
}

// validateOTPEmail checks the address like PocketBase's request-otp form
// (required, at most 255 bytes, an email) and the collection's own email
// field rules (allowed / excluded domains): 422 with field data.
func (p *Plugin) validateOTPEmail(app core.App, guest *core.Record, email string) error {
	err := validation.Validate(email, validation.Required, validation.Length(1, 255), is.EmailFormat)
	if err == nil {
		if field, ok := guest.Collection().Fields.GetByName(core.FieldNameEmail).(*core.EmailField); ok {
			candidate := guest.Clone()
			candidate.SetEmail(email)
			err = field.ValidateValue(context.Background(), app, candidate)
		}
	}
	if err != nil {
		return router.NewApiError(http.StatusUnprocessableEntity, "Invalid email address.",
			validation.Errors{core.FieldNameEmail: err})
	}
	return nil
}

// reusableOTP is PocketBase's rule for an account that already has many
// live codes: the last one is answered again and nothing is sent.
func (p *Plugin) reusableOTP(app core.App, owner *core.Record) *core.OTP {
	if app.IsDev() {
		return nil // as PocketBase: no limit in dev mode
	}
	otps, err := app.FindAllOTPsByRecord(owner)
	if err != nil {
		return nil
	}
	live := 0
	for _, otp := range otps {
		if !otp.HasExpired(owner.Collection().OTP.DurationTime()) {
			live++
		}
	}
	if live >= otpMaxLive {
		return otps[0] // DESC sorted: the last issued
	}
	return nil
}

// sendOTP creates an OTP of owner for address and mails its code, rendered
// for mailRecord (the collection's OTP template), before returning. A
// failed mail deletes the OTP again.
func (p *Plugin) sendOTP(app core.App, owner, mailRecord *core.Record, address string) (string, error) {
	collection := owner.Collection()
	code := security.RandomStringWithAlphabet(collection.OTP.Length, "1234567890")

	otp := core.NewOTP(app)
	otp.SetCollectionRef(collection.Id)
	otp.SetRecordRef(owner.Id)
	otp.SetPassword(code)
	otp.SetSentTo(address)
	if err := app.Save(otp); err != nil {
		return "", err
	}

	if err := mails.SendRecordOTP(app, mailRecord, otp.Id, code); err != nil {
		if delErr := app.Delete(otp); delErr != nil {
			app.Logger().Error("anonauth: failed to delete the OTP of an unsent mail", "otpId", otp.Id, "error", delErr)
		}
		app.Logger().Error("anonauth: failed to send an upgrade code", "recordId", owner.Id, "error", err)
		return "", router.NewInternalServerError("Failed to send the email with the code. Nothing was changed; try again later.", nil)
	}
	return otp.Id, nil
}

// verifiedOTP is an upgrade code that checked out.
type verifiedOTP struct {
	otp    *core.OTP
	target *core.Record // the guest itself (a new address) or an account (a merge)
}

// verifyUpgradeOTP checks otpId and code as PocketBase's auth-with-otp does,
// with the same answers: 400 "Invalid or expired OTP" for anything wrong,
// 429 after 5 wrong codes in 3 minutes.
func (p *Plugin) verifyUpgradeOTP(e *core.RequestEvent, guest *core.Record, otpId, code string) (*verifiedOTP, error) {
	app := e.App
	collection := guest.Collection()
	if !collection.OTP.Enabled {
		return nil, errOTPDisabled()
	}

	// PocketBase's auth-with-otp form rules and field names.
	errs := validation.Errors{}
	if err := validation.Validate(otpId, validation.Required, validation.Length(1, 255)); err != nil {
		errs["otpId"] = err
	}
	if err := validation.Validate(code, validation.Required, validation.Length(1, 71)); err != nil {
		errs["password"] = err
	}
	if len(errs) > 0 {
		return nil, router.NewBadRequestError("An error occurred while validating the submitted data.", errs)
	}

	otp, err := app.FindOTPById(otpId)
	if err != nil || otp.CollectionRef() != collection.Id || otp.HasExpired(collection.OTP.DurationTime()) {
		return nil, errInvalidOTP()
	}

	target, err := app.FindRecordById(collection, otp.RecordRef())
	if err != nil {
		return nil, errInvalidOTP()
	}
	if target.Id == guest.Id {
		if otp.SentTo() == "" || strings.EqualFold(otp.SentTo(), guest.Email()) {
			return nil, errInvalidOTP() // a guest's code that proves no new address
		}
	} else if IsAnonymous(target) {
		return nil, errInvalidOTP()
	}

	// Per account and client IP, as PocketBase's "@pb_otp_<id>" rule.
	if delay := p.otpAttempts.reserve(target.Id + "|" + e.RealIP()); delay > 0 {
		return nil, router.NewTooManyRequestsError("Too many attempts, please try again later with a new OTP.", nil)
	}
	if !otp.ValidatePassword(code) {
		return nil, errInvalidOTP()
	}
	return &verifiedOTP{otp: otp, target: target}, nil
}

// convertByOTP turns guest into a full account with the proven address, in
// one transaction with the consumption of the code. An address taken since
// the code was sent answers 409 and changes nothing (the code stays valid).
func (p *Plugin) convertByOTP(app core.App, guest *core.Record, v *verifiedOTP) (*core.Record, error) {
	address := v.otp.SentTo()
	return p.Convert(app, guest, AuthMethodOTP, func(txApp core.App, fresh *core.Record) error {
		other, err := txApp.FindAuthRecordByEmail(fresh.Collection(), address)
		if err == nil && other.Id != fresh.Id {
			return errEmailInUse(nil)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := txApp.Delete(v.otp); err != nil {
			return err
		}
		fresh.SetEmail(address)
		fresh.SetVerified(true) // the code proved the address
		return nil
	})
}

// ConfirmUpgradeOTP completes RequestUpgradeOTP with the code from the
// mail: for a new address the guest becomes a full account in place, for an
// existing account's address the guest is merged into that account (OnLink,
// relations transferred, guest deleted). Either way it returns the new
// session, sets the pb_auth cookie and e.Auth.
//
// Errors (*router.ApiError): 403 a cross-site browser request (see
// CheckSameOrigin: the answer sets the session cookie), 401 no session, 400
// not a guest or an invalid,
// expired or wrong code, 403 OTP disabled, 409 the address was taken since
// the code was sent (nothing changed), 429 too many wrong codes; a merge
// into an account whose collection requires MFA is refused (401): use the
// HTTP endpoint, which asks for the second factor as PocketBase does.
func (p *Plugin) ConfirmUpgradeOTP(e *core.RequestEvent, otpId, code string) (*AuthData, error) {
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return nil, err // the answer sets the session cookie (login CSRF)
	}
	guest, err := p.requestGuest(e, "")
	if err != nil {
		return nil, err
	}
	v, err := p.verifyUpgradeOTP(e, guest, otpId, code)
	if err != nil {
		return nil, err
	}

	if v.target.Id == guest.Id {
		record, err := p.convertByOTP(e.App, guest, v)
		if err != nil {
			return nil, err
		}
		e.Auth = record
		return p.startSession(e, record)
	}

	if v.target.Collection().MFA.Enabled {
		return nil, router.NewUnauthorizedError("This account requires multi-factor authentication: confirm the code through the HTTP API.", nil)
	}
	account := v.target
	err = e.App.RunInTransaction(func(txApp core.App) error {
		if err := consumeAccountOTP(txApp, account, v.otp); err != nil {
			return err
		}
		return p.link(txApp, guest, account, e, AuthMethodOTP)
	})
	if err != nil {
		return nil, err
	}
	e.Auth = account
	return p.startSession(e, account)
}

// consumeAccountOTP is what PocketBase's auth-with-otp does with a valid
// code of an account: the OTP is deleted, and an unverified account whose
// address the code went to becomes verified (with a new random password
// unless MFA is on: PocketBase's guard against pre-registered accounts).
func consumeAccountOTP(app core.App, account *core.Record, otp *core.OTP) error {
	if err := app.Delete(otp); err != nil {
		return err
	}
	if !account.Verified() && otp.SentTo() != "" && account.Email() == otp.SentTo() {
		account.SetVerified(true)
		if !account.Collection().MFA.Enabled {
			account.SetRandomPassword()
		}
		return app.Save(account)
	}
	return nil
}

// otpUpgradeBody is the body of request-otp ({email}) and confirm-otp
// ({otpId, password}), as PocketBase's own OTP endpoints.
type otpUpgradeBody struct {
	Email    string `json:"email" form:"email"`
	OTPId    string `json:"otpId" form:"otpId"`
	Password string `json:"password" form:"password"`
}

// handleRequestUpgradeOTP is POST
// /api/collections/{collection}/upgrade-anonymous/request-otp with {email}:
// 200 {otpId}.
func (p *Plugin) handleRequestUpgradeOTP(e *core.RequestEvent) error {
	guest, err := p.requestGuest(e, e.Request.PathValue("collection"))
	if err != nil {
		return err
	}
	var body otpUpgradeBody
	if err := e.BindBody(&body); err != nil {
		return e.BadRequestError("Failed to read the request body: expected {email}.", err)
	}
	otpId, err := p.requestUpgradeOTP(e, guest, body.Email)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]string{"otpId": otpId})
}

// handleConfirmUpgradeOTP is POST
// /api/collections/{collection}/upgrade-anonymous/confirm-otp with {otpId,
// password}: 200 {token, record} and the pb_auth cookie, through
// apis.RecordAuthResponse (OnRecordAuthRequest fires).
func (p *Plugin) handleConfirmUpgradeOTP(e *core.RequestEvent) error {
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return err // the answer sets the session cookie (login CSRF)
	}
	guest, err := p.requestGuest(e, e.Request.PathValue("collection"))
	if err != nil {
		return err
	}
	var body otpUpgradeBody
	if err := e.BindBody(&body); err != nil {
		return e.BadRequestError("Failed to read the request body: expected {otpId, password}.", err)
	}
	v, err := p.verifyUpgradeOTP(e, guest, body.OTPId, body.Password)
	if err != nil {
		return err
	}
	e.Set(setCookieKey, true)

	if v.target.Id == guest.Id {
		record, err := p.convertByOTP(e.App, guest, v)
		if err != nil {
			return err
		}
		e.Auth = record
		// As upgrade-anonymous: method "", no MFA step or new-login alert
		// for the address that was just proven.
		return apis.RecordAuthResponse(e, record, "", nil)
	}

	// An account's code: PocketBase's OTP sign-in, hooks included. The
	// merge is the sign-in merge (linkOnSignIn, in OnRecordAuthRequest), so
	// MFA, OnLink and every rule of a sign-in apply unchanged.
	e.Set(core.RequestEventKeyInfoContext, core.RequestInfoContextOTP)
	event := new(core.RecordAuthWithOTPRequestEvent)
	event.RequestEvent = e
	event.Collection = v.target.Collection()
	event.Record = v.target
	event.OTP = v.otp
	return e.App.OnRecordAuthWithOTPRequest().Trigger(event, func(e *core.RecordAuthWithOTPRequestEvent) error {
		if err := consumeAccountOTP(e.App, e.Record, e.OTP); err != nil {
			return err
		}
		return apis.RecordAuthResponse(e.RequestEvent, e.Record, core.MFAMethodOTP, nil)
	})
}

func errOTPDisabled() *router.ApiError {
	return router.NewForbiddenError("The collection is not configured to allow OTP authentication.", nil)
}

// errInvalidOTP is PocketBase's answer to any wrong, expired or foreign code.
func errInvalidOTP() *router.ApiError {
	return router.NewBadRequestError("Invalid or expired OTP", nil)
}
