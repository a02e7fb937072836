package anonauth

import (
	"errors"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// oauth2HookId identifies the OnRecordAuthWithOAuth2Request handler.
const oauth2HookId = "pocketguestOAuth2"

// registerOAuth2 binds the handler that makes PocketBase's own
// auth-with-oauth2, called with a guest session, convert or merge the guest.
func (p *Plugin) registerOAuth2() {
	p.app.OnRecordAuthWithOAuth2Request().Bind(&hook.Handler[*core.RecordAuthWithOAuth2RequestEvent]{
		Id: oauth2HookId,
		// Late: app handlers that pick e.Record themselves run first.
		Priority: 100,
		Func:     p.oauth2WithGuest,
	})
}

// oauth2WithGuest handles auth-with-oauth2 from a guest session of the same
// collection. PocketBase alone would either link the identity to the guest
// and leave it flagged anonymous with its placeholder email, or sign another
// account in and orphan the guest. Instead:
//
//   - identity new, email unknown (or none): upgrade in place. The guest
//     (same id) gets the provider's email and isAnonymous=false; PocketBase
//     then links the identity and marks the record verified (emails match).
//   - identity already linked to another account: PocketBase signs that
//     account in; the guest is merged into it (linkOnSignIn).
//   - identity new but its email belongs to another account: that account is
//     signed in (as PocketBase does without a session, including its
//     protection of unverified accounts), the identity is linked to it, and
//     the guest is merged into it (linkOnSignIn).
//
// The whole flow, PocketBase's linking included, runs in one transaction and
// the response is written only after it commits: a failing OnLink handler
// leaves no half-linked identity behind.
//
// With MFA enabled for the collection, PocketBase answers the first factor
// with 401 {mfaId}; the upgrade in place is then already committed (as
// PocketBase commits a record created by OAuth2 before MFA), merges wait for
// the completed second factor.
func (p *Plugin) oauth2WithGuest(e *core.RecordAuthWithOAuth2RequestEvent) error {
	guest := e.Auth
	if guest == nil || !IsAnonymous(guest) || guest.Collection().Id != e.Collection.Id || !p.IsEnabled(e.Collection.Name) {
		return e.Next()
	}

	var mfaErr error
	original := e.App
	err := e.App.RunInTransaction(func(txApp core.App) error {
		if err := lockForWrite(txApp, guest.Collection().Name); err != nil {
			return err
		}
		e.App = txApp
		defer func() { e.App = original }()

		if err := p.prepareOAuth2(txApp, e, guest); err != nil {
			return err
		}

		err := e.Next()
		if errors.Is(err, apis.ErrMFA) {
			mfaErr = err // keep the MFA record PocketBase just created
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return mfaErr
}

// prepareOAuth2 picks what the OAuth2 sign-in does with the guest, before
// PocketBase links the identity (see oauth2WithGuest).
func (p *Plugin) prepareOAuth2(txApp core.App, e *core.RecordAuthWithOAuth2RequestEvent, guest *core.Record) error {
	if e.Record != nil && e.Record.Id != guest.Id {
		return nil // linked to another account: merged by linkOnSignIn
	}

	email := e.OAuth2User.Email
	if email != "" {
		owner, err := txApp.FindAuthRecordByEmail(e.Collection, email)
		if err == nil && owner.Id != guest.Id {
			// Sign the owner in instead of the guest; linkOnSignIn merges.
			e.Record = owner
			e.IsNewRecord = false
			return nil
		}
	}

	// Upgrade in place. The guest is re-read inside the transaction (not
	// e.Auth, loaded before it) and saved before PocketBase's own save, so
	// nothing re-saves a stale copy over the identity link afterwards.
	fresh, err := txApp.FindRecordById(e.Collection, guest.Id)
	if err != nil {
		return errGuestGone()
	}
	if !IsAnonymous(fresh) {
		return errAlreadyConverted()
	}

	fresh.Set(FieldIsAnonymous, false)
	if email != "" {
		fresh.SetEmail(email)
	}
	// Without a provider email the placeholder stays (unverified, on a
	// domain that never receives mail) until the user changes it.
	if err := txApp.Save(fresh); err != nil {
		return upgradeSaveError(err)
	}
	p.audit(txApp, AuditConverted, fresh, "method", "oauth2", "provider", e.ProviderName)

	e.Record = fresh
	e.IsNewRecord = false
	// PocketBase compares e.Auth with e.Record to know the identity is
	// linked by the signed-in owner (no password reset); it is the same
	// account, now no longer anonymous.
	e.Auth = fresh

	return nil
}
