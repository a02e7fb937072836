package anonauth

import (
	"errors"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/ozzo-validation/v4/is"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/mails"
	"github.com/pocketbase/pocketbase/tools/routine"
)

// UpgradeInput is what a guest gives to become a regular account.
type UpgradeInput struct {
	Email           string `json:"email" form:"email"`
	Password        string `json:"password" form:"password"`
	PasswordConfirm string `json:"passwordConfirm" form:"passwordConfirm"`
	// Name is optional; it is written to Config.NameField when the
	// collection has that field, and ignored otherwise.
	Name string `json:"name" form:"name"`
}

// Upgrade turns the request's guest into a regular account in place: same
// record id (so every relation to it stays valid), isAnonymous=false, the
// given email and password, verified=false. A verification email is sent
// (in the background, after the commit, never failing the upgrade) when the
// app has SMTP enabled.
//
// The record's token key is rotated (see Convert), which ends every guest
// token: Upgrade returns a fresh {token, record}, sets the pb_auth cookie
// and e.Auth, so the user does not notice.
//
// Errors (*router.ApiError, matched by errors.Is with the sentinels): 401 no
// session (ErrNoSession), 400 not anonymous (ErrNotAnonymous; also the loser
// of two concurrent upgrades, ErrAlreadyConverted), 409 email in use
// (ErrEmailInUse), 422 invalid email, password rules or confirm mismatch
// (field-level data).
func (p *Plugin) Upgrade(e *core.RequestEvent, in UpgradeInput) (*AuthData, error) {
	guest, err := p.requestGuest(e, "")
	if err != nil {
		return nil, err
	}
	record, err := p.upgradeGuest(e, guest, in)
	if err != nil {
		return nil, err
	}
	return p.startSession(e, record)
}

// upgradeGuest upgrades guest (the request's, already checked by
// requestGuest) without issuing a token (the HTTP handler lets
// apis.RecordAuthResponse do that). It sets e.Auth to the upgraded record.
func (p *Plugin) upgradeGuest(e *core.RequestEvent, guest *core.Record, in UpgradeInput) (*core.Record, error) {
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return nil, err // the answer sets the session cookie (login CSRF)
	}
	in.Email = strings.TrimSpace(in.Email)

	// Everything cheap first: field rules of the collection and the email
	// uniqueness, checked on a copy, before paying ~60 ms of bcrypt.
	candidate := guest.Clone()
	p.applyUpgrade(candidate, in, &core.PasswordFieldValue{Plain: in.Password, Hash: "-"})
	if err := p.validateUpgrade(e.App, candidate, in); err != nil {
		return nil, err
	}

	candidate.SetPassword(in.Password) // bcrypt, outside the transaction (it would hold the write lock)
	password := candidate.GetRaw(core.FieldNamePassword)

	upgraded, err := p.convert(e.App, guest, auditEntry{ip: requestIP(e)}, func(_ core.App, fresh *core.Record) error {
		p.applyUpgrade(fresh, in, password)
		return nil
	}, "method", "password")
	if err != nil {
		return nil, storageFault(e, err)
	}

	e.Auth = upgraded
	p.sendVerification(e.App, upgraded)

	return upgraded, nil
}

// applyUpgrade sets the upgrade's fields on record.
func (p *Plugin) applyUpgrade(record *core.Record, in UpgradeInput, password any) {
	record.SetEmail(in.Email)
	record.SetRaw(core.FieldNamePassword, password)
	record.SetVerified(false)
	record.Set(FieldIsAnonymous, false)
	if in.Name != "" && record.Collection().Fields.GetByName(p.config.NameField) != nil {
		record.Set(p.config.NameField, in.Name)
	}
}

// validateUpgrade checks the form and the collection's own field rules
// (email format and domains, password min/max/pattern, name length...) on the
// candidate record, without touching the database except for the email
// uniqueness lookup. The save in the transaction validates again; this is
// only to answer early and cheaply.
func (p *Plugin) validateUpgrade(app core.App, candidate *core.Record, in UpgradeInput) error {
	errs := validation.Errors{}

	if err := validation.Validate(in.Email, validation.Required, is.EmailFormat); err != nil {
		errs[core.FieldNameEmail] = err
	}
	if err := validation.Validate(in.Password, validation.Required); err != nil {
		errs[core.FieldNamePassword] = err
	}
	switch {
	case in.PasswordConfirm == "":
		errs["passwordConfirm"] = validation.ErrRequired
	case in.PasswordConfirm != in.Password:
		errs["passwordConfirm"] = validation.NewError("validation_values_mismatch", "Values don't match.")
	}

	if err := app.Validate(candidate); err != nil {
		var verrs validation.Errors
		if !errors.As(err, &verrs) {
			return err
		}
		for field, ferr := range verrs {
			if _, seen := errs[field]; !seen {
				errs[field] = ferr
			}
		}
	}

	if _, bad := errs[core.FieldNameEmail]; !bad {
		other, err := app.FindAuthRecordByEmail(candidate.Collection(), in.Email)
		if err == nil && other.Id != candidate.Id {
			return errEmailInUse(errs)
		}
	}

	if len(errs) > 0 {
		return errUnprocessable(errs)
	}
	return nil
}

// sendVerification mails the verification link to a just-upgraded record, in
// the background like PocketBase's own request-verification: a mail server
// that is slow or down must not fail (or slow down) an upgrade that is
// already committed. "Mail configured" means SMTP is enabled in the settings;
// without it PocketBase would fall back to a local sendmail that most
// servers do not have.
func (p *Plugin) sendVerification(app core.App, record *core.Record) {
	if !app.Settings().SMTP.Enabled || record.Verified() {
		return
	}
	// A copy: the caller goes on using (and the auth response enriches) the
	// record while the mail is rendered.
	record = record.Fresh()
	routine.FireAndForget(func() {
		if err := mails.SendRecordVerification(app, record); err != nil {
			app.Logger().Error("anonauth: failed to send the verification email after an upgrade",
				"recordId", record.Id, "error", err)
		}
	})
}

// requestGuest returns the request's guest session record, checking it
// belongs to collection (any enabled collection when empty).
func (p *Plugin) requestGuest(e *core.RequestEvent, collection string) (*core.Record, error) {
	if collection != "" {
		if _, err := p.enabledCollection(e.App, collection); err != nil {
			return nil, err
		}
	}
	if e.Auth == nil {
		return nil, errNoAuth()
	}
	if collection != "" && e.Auth.Collection().Name != collection && e.Auth.Collection().Id != collection {
		return nil, errWrongCollection(e.Auth.Collection().Name, collection)
	}
	if !IsAnonymous(e.Auth) || !p.IsEnabled(e.Auth.Collection().Name) {
		return nil, errNotAnonymous()
	}
	return e.Auth, nil
}

// handleUpgrade is POST /api/collections/{collection}/upgrade-anonymous with
// {email, password, passwordConfirm, name?} (JSON or form).
func (p *Plugin) handleUpgrade(e *core.RequestEvent) error {
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return err
	}
	guest, err := p.requestGuest(e, e.Request.PathValue("collection"))
	if err != nil {
		return err
	}

	var in UpgradeInput
	if err := e.BindBody(&in); err != nil {
		return e.BadRequestError("Failed to read the request body: expected {email, password, passwordConfirm, name?}.", err)
	}

	record, err := p.upgradeGuest(e, guest, in)
	if err != nil {
		return err
	}

	// As for auth-anonymously: the auth response hook writes the pb_auth
	// cookie with the new token, and OnRecordAuthRequest hooks fire. The
	// method is "" because the caller is already authenticated: no MFA step
	// and no new-login alert for the address they just typed.
	e.Set(setCookieKey, true)
	return apis.RecordAuthResponse(e, record, "", nil)
}
