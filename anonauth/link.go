package anonauth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/inflector"
	"github.com/pocketbase/pocketbase/tools/router"
)

// LinkEvent is the event of a guest being merged into an existing account of
// the same collection (a sign-in with password, OTP or OAuth2 while carrying
// the guest session, or a direct Plugin.Link call).
//
// Handlers run inside the merge transaction, before the default action,
// which runs when the last handler calls e.Next(): re-point every relation
// to the guest at the account (if TransferRelations, except SkipRelations),
// then delete the guest (if DeleteAnonymous). Code after e.Next() sees the
// data already moved.
//
// A merge trusts whatever guest session the browser carries, and a guest
// session can be planted in someone else's browser (a sibling subdomain,
// HTTP on a shared network, a shared device): the planted guest's rows then
// become the victim's when the victim signs in. Handlers decide what a
// merge may carry over:
//
//   - refuse it and fail the sign-in: return an error (everything rolls
//     back; the client gets the error and keeps its guest session);
//   - refuse it and let the sign-in go on: return nil without calling
//     e.Next(), or return ErrSkipMerge (Config.OnLink, which does not call
//     e.Next() itself, uses that): the guest stays as it is and an
//     "anonymous.mergeSkipped" log line records it;
//   - filter it: list relations in SkipRelations (rows that would make the
//     account grant something to someone, like a self-join "shares" or
//     "members" table), or set TransferRelations to false and move what is
//     safe yourself through e.App.
type LinkEvent struct {
	hook.Event

	// App is the transactional app: do every read and write of the merge
	// through it (not through a captured app, which would wait forever for
	// the write lock this transaction holds).
	App core.App

	// Anonymous is the guest, freshly read inside the transaction.
	Anonymous *core.Record

	// Account is the existing account the guest is merged into. During a
	// sign-in it is the record the auth response returns, so changes made to
	// it in memory and saved show in the response.
	Account *core.Record

	// RequestEvent is the sign-in request, or nil for a Link call from Go.
	RequestEvent *core.RequestEvent

	// AuthMethod is the sign-in method ("password", "otp", "oauth2", or an
	// app's own), "" for a Link call from Go.
	AuthMethod string

	// TransferRelations makes the default action re-point every relation
	// field (of any collection) that references the guest to the account.
	// It starts as !Config.DisableRelationTransfer; handlers may change it.
	TransferRelations bool

	// SkipRelations lists relation fields the default action leaves on the
	// guest: "collection" (each of its relation fields that reference the
	// guest's collection) or "collection.field". With DeleteAnonymous their
	// records then follow PocketBase's delete rules (cascade delete or
	// unset). Set it before e.Next() (in JS assign a whole array:
	// e.skipRelations = ["shares"]).
	SkipRelations []string

	// DeleteAnonymous makes the default action delete the guest afterwards.
	// It starts as !Config.DisableDelete; handlers may change it.
	DeleteAnonymous bool

	// Transferred is the number of records the default action re-pointed
	// (readable after e.Next()).
	Transferred int
}

// linkOnSignInHookId identifies the OnRecordAuthRequest handler that merges
// a guest session into the account that just signed in.
const linkOnSignInHookId = "pocketguestLinkOnSignIn"

// configOnLinkHookId identifies the handler that runs Config.OnLink.
const configOnLinkHookId = "pocketguestConfigOnLink"

// OnLink returns the hook triggered when a guest is merged into an existing
// account. Config.OnLink is bound to it first; the JS onAnonymousLink
// handlers and any Go code may bind more.
func (p *Plugin) OnLink() *hook.Hook[*LinkEvent] {
	return p.onLink
}

// registerLink creates the OnLink hook and binds the sign-in merge.
func (p *Plugin) registerLink() {
	p.onLink = &hook.Hook[*LinkEvent]{}
	if p.config.OnLink != nil {
		p.onLink.Bind(&hook.Handler[*LinkEvent]{
			Id:       configOnLinkHookId,
			Priority: priorityConfigOnLink, // hookorder.go
			Func: func(e *LinkEvent) error {
				if err := p.config.OnLink(e); err != nil {
					return err
				}
				return e.Next()
			},
		})
	}

	p.app.OnRecordAuthRequest().Bind(&hook.Handler[*core.RecordAuthRequestEvent]{
		Id:       linkOnSignInHookId,
		Priority: priorityLinkOnSignIn, // hookorder.go
		Func:     p.linkOnSignIn,
	})
}

// Link merges the guest anonymous into account (same auth collection): the
// OnLink hook (Config.OnLink, JS onAnonymousLink) runs, then every relation
// to the guest is re-pointed to account and the guest is deleted, unless
// configured otherwise. All of it is one transaction (app's own if app is a
// transactional app): on any error nothing has changed.
//
// Errors: 400 (*router.ApiError) if anonymous is not a guest of an enabled
// collection, or account is not a regular account of the same collection;
// 404 if the guest is already gone; 409 if a re-pointed record would break a
// unique index (e.g. one cart per user and both have one: move or merge it in
// an OnLink handler); a hook's error as it is.
func (p *Plugin) Link(app core.App, anonymous, account *core.Record) error {
	return p.link(app, anonymous, account, nil, "")
}

func (p *Plugin) link(app core.App, anonymous, account *core.Record, re *core.RequestEvent, method string) error {
	switch {
	case anonymous == nil || account == nil:
		return errLinkInvalid("missing record.")
	case !IsAnonymous(anonymous) || !p.IsEnabled(anonymous.Collection().Name):
		return errNotAnonymous()
	case anonymous.Collection().Id != account.Collection().Id:
		return errLinkInvalid("the account belongs to another collection.")
	case anonymous.Id == account.Id:
		return errLinkInvalid("a record cannot be linked to itself.")
	case IsAnonymous(account):
		return errLinkInvalid("the account is anonymous too.")
	}

	return guestTx(app, anonymous, func(txApp core.App, guest *core.Record) error {
		event := &LinkEvent{
			App:               txApp,
			Anonymous:         guest,
			Account:           account,
			RequestEvent:      re,
			AuthMethod:        method,
			TransferRelations: !p.config.DisableRelationTransfer,
			DeleteAnonymous:   !p.config.DisableDelete,
		}

		entry := auditEntry{accountRef: account.Id, ip: requestIP(re)}
		merged := false
		err := p.onLink.Trigger(event, func(e *LinkEvent) error {
			merged = true
			// txApp, not e.App: the all-or-nothing promise is ours to keep
			// even if a handler swapped the app.
			if e.TransferRelations {
				n, err := transferRelations(txApp, e.Anonymous, e.Account, e.SkipRelations, p.config.MaxMergeRecords)
				if err != nil {
					return err
				}
				e.Transferred = n
			}
			if e.DeleteAnonymous {
				if err := txApp.Delete(e.Anonymous); err != nil {
					return fmt.Errorf("anonauth: failed to delete the merged guest: %w", err)
				}
			}
			p.audit(txApp, AuditMerged, e.Anonymous, entry,
				"method", e.AuthMethod,
				"transferred", e.Transferred,
				"skipped", e.SkipRelations,
				"deleted", e.DeleteAnonymous,
			)
			return nil
		})
		if errors.Is(err, ErrSkipMerge) && !merged {
			err = nil
		}
		if err == nil && !merged {
			p.auditLog(txApp, AuditMergeSkipped, guest,
				"accountId", account.Id, "ip", entry.ip, "method", method)
		}
		return err
	})
}

// linkOnSignIn merges the request's guest session into the account that
// signs in (password, OTP, OAuth2 or any app sign-in that reports a method).
//
// Why OnRecordAuthRequest and not OnRecordAuthWithPasswordRequest /
// OnRecordAuthWithOTPRequest: those fire before the credentials are checked
// (e.Record is only the candidate found by identity; PocketBase validates the
// password after the handlers), so a merge there would hand a guest's data to
// an account whose password was wrong. OnRecordAuthRequest fires from
// apis.RecordAuthResponse once the method has succeeded, for every method
// alike, and before the response is written.
//
// The merge runs after e.Next() in the same transaction: the MFA check is in
// PocketBase's final handler, so only a sign-in that completes merges (a
// first factor answering 401 {mfaId} commits the MFA record and merges
// nothing; the second factor, still carrying the guest session, merges).
// PocketBase defers the JSON response to the commit, so a failed merge rolls
// back and answers the error instead, and the session cookie set further down
// the chain is dropped: the client keeps its guest session and loses nothing.
func (p *Plugin) linkOnSignIn(e *core.RecordAuthRequestEvent) error {
	guest := e.Auth
	if e.AuthMethod == "" || // auth-refresh, auth-anonymously, upgrade: no sign-in to another account
		guest == nil || !IsAnonymous(guest) || !p.IsEnabled(guest.Collection().Name) ||
		e.Record == nil || e.Record.Id == guest.Id ||
		e.Record.Collection().Id != guest.Collection().Id || IsAnonymous(e.Record) {
		return e.Next()
	}

	err := chainTx(&e.App, guest.Collection().Name, func(txApp core.App) error {
		if err := e.Next(); err != nil {
			return err // apis.ErrMFA included: chainTx commits the MFA record
		}
		err := p.link(txApp, guest, e.Record, e.RequestEvent, e.AuthMethod)
		if isStaleGuest(err) {
			// A concurrent request (a double-submitted sign-in form) already
			// merged, upgraded or deleted this guest: nothing is left to
			// merge, and the credentials were right, so the sign-in stands.
			return nil
		}
		return err
	})
	if err != nil {
		if !errors.Is(err, apis.ErrMFA) {
			dropSetCookie(e.RequestEvent, p.config.CookieName)
		}
		return err
	}

	e.Auth = e.Record
	return nil
}

// transferRelations re-points every relation field value that references
// from (in any collection, single or multiple) to to, keeping multiple
// values unique, except the relations listed in skip ("collection" or
// "collection.field"). It returns the number of records changed.
//
// At most limit records are changed (a negative limit: no cap): a merge
// that would change more fails with ErrMergeTooLarge before writing the
// record over the limit, so the transaction holds the write lock for at
// most limit writes (and rolls back).
//
// Records are saved with SaveNoValidate: only the relation value changes, to
// another existing record of the same collection, and unrelated stale data
// (a field rule added after the record was written) must not block a merge.
// Model hooks still fire and unique indexes still apply.
func transferRelations(txApp core.App, from, to *core.Record, skip []string, limit int) (int, error) {
	if err := checkSkipRelations(txApp, skip); err != nil {
		return 0, err
	}
	refs, err := txApp.FindCollectionReferences(from.Collection())
	if err != nil {
		return 0, err
	}

	collections := make([]*core.Collection, 0, len(refs))
	for c := range refs {
		if !c.IsView() && !slices.Contains(skip, c.Name) {
			collections = append(collections, c)
		}
	}
	sort.Slice(collections, func(i, j int) bool { return collections[i].Name < collections[j].Name })

	total := 0
	for _, collection := range collections {
		table := inflector.Columnify(collection.Name)
		for _, field := range refs[collection] {
			rel, ok := field.(*core.RelationField)
			if !ok || slices.Contains(skip, collection.Name+"."+rel.Name) {
				continue
			}
			column := table + "." + inflector.Columnify(rel.Name)

			// The same lookup PocketBase's cascade delete uses.
			query := txApp.RecordQuery(collection)
			if rel.IsMultiple() {
				query.AndWhere(dbx.Exists(dbx.NewExp(
					"SELECT 1 FROM "+dbutils.JSONEach(column)+" {{__je__}} WHERE [[__je__.value]]={:guestId}",
					dbx.Params{"guestId": from.Id},
				)))
			} else {
				query.AndWhere(dbx.HashExp{column: from.Id})
			}
			if collection.Id == from.Collection().Id {
				// the guest's own self-references go with the guest
				query.AndWhere(dbx.Not(dbx.HashExp{table + ".id": from.Id}))
			}
			if limit >= 0 {
				query.Limit(int64(limit - total + 1)) // one more tells the cap is exceeded
			}

			var records []*core.Record
			if err := query.All(&records); err != nil {
				return total, err
			}
			if limit >= 0 && total+len(records) > limit {
				return total, errMergeTooLarge(limit)
			}

			for _, record := range records {
				if rel.IsMultiple() {
					record.Set(rel.Name, replaceID(record.GetStringSlice(rel.Name), from.Id, to.Id))
				} else {
					record.Set(rel.Name, to.Id)
				}
				if err := txApp.SaveNoValidate(record); err != nil {
					return total, transferError(collection.Name, rel.Name, record.Id, err)
				}
				total++
			}
		}
	}

	return total, nil
}

// checkSkipRelations fails on an entry that names no collection or field of
// the app: a typo there would quietly merge the very rows a handler meant
// to keep out of the account.
func checkSkipRelations(txApp core.App, skip []string) error {
	for _, entry := range skip {
		name, field, hasField := strings.Cut(entry, ".")
		collection, err := txApp.FindCachedCollectionByNameOrId(name)
		if err == nil && (!hasField || collection.Fields.GetByName(field) != nil) {
			continue
		}
		return fmt.Errorf("anonauth: LinkEvent.SkipRelations: %q is not a collection or \"collection.field\" of this app", entry)
	}
	return nil
}

// replaceID replaces from with to in ids, keeping the order and dropping
// duplicates (the account may already be in the list).
func replaceID(ids []string, from, to string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == from {
			id = to
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// transferError explains which record could not change owner. A unique
// index violation (the account already has the one allowed record) is a
// 409 the app can resolve in an OnLink handler.
func transferError(collection, field, id string, err error) error {
	msg := fmt.Sprintf("Cannot merge the guest's data: %s record %q could not be moved to the account through %q.", collection, id, field)
	var verrs validation.Errors
	if errors.As(err, &verrs) {
		return router.NewApiError(http.StatusConflict, msg+" Resolve it in an OnLink/onAnonymousLink handler.", verrs)
	}
	return fmt.Errorf("anonauth: %s: %w", msg, err)
}
