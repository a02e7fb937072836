package anonauth

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// oauth2HookId identifies the OnRecordAuthWithOAuth2Request handler.
const oauth2HookId = "pocketguestOAuth2"

// registerOAuth2 binds the handler that makes PocketBase's own
// auth-with-oauth2, called with a guest session, convert or merge the guest.
func (p *Plugin) registerOAuth2() {
	p.app.OnRecordAuthWithOAuth2Request().Bind(&hook.Handler[*core.RecordAuthWithOAuth2RequestEvent]{
		Id:       oauth2HookId,
		Priority: priorityOAuth2WithGuest, // hookorder.go
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

	return chainTx(&e.App, guest.Collection().Name, func(txApp core.App) error {
		if err := p.prepareOAuth2(txApp, e, guest); err != nil {
			return err
		}
		return e.Next()
	})
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

	// Upgrade in place, through Convert: the guest is re-read inside the
	// transaction (not e.Auth, loaded before it), and its token key rotates
	// even when the provider gives no email (or an OIDC email with
	// email_verified=false, which PocketBase drops), a save in which
	// PocketBase itself would rotate nothing. It is saved before
	// PocketBase's own save, so nothing re-saves a stale copy over the
	// identity link afterwards.
	upgraded, err := p.convert(txApp, guest, auditEntry{ip: requestIP(e.RequestEvent)}, func(_ core.App, fresh *core.Record) error {
		// Without a provider email the placeholder stays (unverified, on a
		// domain that never receives mail) until the user changes it.
		if email != "" {
			fresh.SetEmail(email)
		}
		return nil
	}, "method", "oauth2", "provider", e.ProviderName)
	if err != nil {
		return err
	}

	e.Record = upgraded
	e.IsNewRecord = false
	// PocketBase compares e.Auth with e.Record to know the identity is
	// linked by the signed-in owner (no password reset); it is the same
	// account, now no longer anonymous.
	e.Auth = upgraded

	return nil
}
