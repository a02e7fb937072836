package anonauth

import (
	"database/sql"
	"errors"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// The guest transaction: every path that changes what a guest is (upgrade,
// OAuth2 upgrade in place, merge, delete, and any later one) goes through
// guestTx, and every path that turns a guest into a full account goes
// through Convert, so the rules below are written once.
//
//  1. Take SQLite's write lock first (lockForWrite), then re-read the guest:
//     the copy the request loaded (e.Auth) may be stale, because a
//     concurrent upgrade, merge or delete of the same guest (a double
//     submit, two tabs) may have committed since.
//  2. Still there and still anonymous? Otherwise ErrGuestGone or
//     ErrAlreadyConverted (errors.Is), which callers that tolerate a double
//     submit test with isStaleGuest.
//  3. A conversion rotates the record's token key in the same save. Why:
//     PocketBase rotates it only when the email or password changes, and an
//     OAuth2 upgrade without a provider email changes neither, so the guest
//     token (which whoever planted or copied the guest session still holds)
//     would keep working on the now-full account: account takeover. After
//     the rotation only the token issued by the conversion's own answer is
//     valid.

// lockGuest takes the write lock in txApp and returns guest freshly read,
// if it still exists and is still anonymous.
func lockGuest(txApp core.App, guest *core.Record) (*core.Record, error) {
	if err := lockForWrite(txApp, guest.Collection().Name); err != nil {
		return nil, err
	}
	fresh, err := txApp.FindRecordById(guest.Collection(), guest.Id)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errGuestGone()
		}
		return nil, err // a database fault, not the client's doing
	}
	if !IsAnonymous(fresh) {
		return nil, errAlreadyConverted()
	}
	return fresh, nil
}

// guestTx runs fn in one write transaction of app (app's own when it is
// already transactional) with the guest re-read under the lock. Any error
// rolls everything back.
func guestTx(app core.App, guest *core.Record, fn func(txApp core.App, fresh *core.Record) error) error {
	return app.RunInTransaction(func(txApp core.App) error {
		fresh, err := lockGuest(txApp, guest)
		if err != nil {
			return err
		}
		return fn(txApp, fresh)
	})
}

// Convert turns guest into a full account in place (same record id, so
// every relation to it stays valid), in one transaction:
//
//   - the guest is re-read under the write lock (errors.Is ErrGuestGone /
//     ErrAlreadyConverted if a concurrent request got there first);
//   - apply sets what the new account gets (email, password, identity...)
//     on that fresh record, reading through txApp if it needs to;
//   - isAnonymous becomes false and the token key is rotated, so every
//     token issued to the guest stops working at once;
//   - the record is saved (a validation error answers 409 for a taken
//     email, 422 otherwise) and an "anonymous.converted" audit event with
//     method is written.
//
// It returns the saved record; every token issued before is now invalid, so
// issue the new session from it: Plugin.NewToken and SetAuthCookie from Go
// code, or apis.RecordAuthResponse on an HTTP route (this plugin's auth
// response hook then rewrites the pb_auth cookie of a cookie session).
// Upgrade and the OAuth2 flow are built on it; use it for any other way of
// turning a guest into an account.
func (p *Plugin) Convert(app core.App, guest *core.Record, method string, apply func(txApp core.App, record *core.Record) error) (*core.Record, error) {
	return p.convert(app, guest, auditEntry{}, apply, "method", method)
}

// convert is Convert with what the audit event records: the request's IP
// (entry) and extra slog key/value pairs (attrs, "method" first).
func (p *Plugin) convert(app core.App, guest *core.Record, entry auditEntry, apply func(txApp core.App, record *core.Record) error, attrs ...any) (*core.Record, error) {
	if guest == nil || !IsAnonymous(guest) || !p.IsEnabled(guest.Collection().Name) {
		return nil, errNotAnonymous()
	}
	var converted *core.Record
	err := guestTx(app, guest, func(txApp core.App, fresh *core.Record) error {
		if apply != nil {
			if err := apply(txApp, fresh); err != nil {
				return err
			}
		}
		fresh.Set(FieldIsAnonymous, false)
		fresh.RefreshTokenKey()
		if err := txApp.Save(fresh); err != nil {
			return upgradeSaveError(err)
		}
		p.audit(txApp, AuditConverted, fresh, entry, attrs...)
		converted = fresh
		return nil
	})
	if err != nil {
		return nil, err
	}
	return converted, nil
}

// chainTx runs body, which continues PocketBase's own hook chain (e.Next()),
// in one write transaction on table, with *app (the event's App field) set
// to the transactional app while it runs, so PocketBase's handlers further
// down write through the same transaction.
//
// apis.ErrMFA (a first factor accepted, the second one still due) commits
// instead of rolling back, to keep the MFA record PocketBase just created,
// and is returned after the commit.
func chainTx(app *core.App, table string, body func(txApp core.App) error) error {
	var mfaErr error
	original := *app
	err := original.RunInTransaction(func(txApp core.App) error {
		if err := lockForWrite(txApp, table); err != nil {
			return err
		}
		*app = txApp
		defer func() { *app = original }()

		err := body(txApp)
		if errors.Is(err, apis.ErrMFA) {
			mfaErr = err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return mfaErr
}
