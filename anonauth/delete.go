package anonauth

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"
)

// DeleteAnonymous deletes the request's own guest record (and, through
// PocketBase's cascade, whatever its relations say goes with it), clears the
// pb_auth cookie and e.Auth.
//
// Errors (*router.ApiError, matched by errors.Is with the sentinels): 404
// when Config.DisableDelete is set (ErrDeleteDisabled), 401 no session
// (ErrNoSession), 400 the caller is not anonymous (ErrNotAnonymous; also
// when a concurrent upgrade won, ErrAlreadyConverted), 404 the guest is
// already gone (ErrGuestGone).
func (p *Plugin) DeleteAnonymous(e *core.RequestEvent) error {
	return p.deleteGuest(e, "")
}

// deleteGuest is DeleteAnonymous for a guest of collection (any enabled one
// when empty).
func (p *Plugin) deleteGuest(e *core.RequestEvent, collection string) error {
	if p.config.DisableDelete {
		return errDeleteDisabled()
	}
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return err // the answer clears the session cookie
	}
	guest, err := p.requestGuest(e, collection)
	if err != nil {
		return err
	}

	err = guestTx(e.App, guest, func(txApp core.App, fresh *core.Record) error {
		if err := txApp.Delete(fresh); err != nil {
			return err
		}
		p.audit(txApp, AuditDeleted, fresh, auditEntry{ip: requestIP(e)}, "reason", "self")
		return nil
	})
	if err != nil {
		return storageFault(e, err)
	}

	ClearAuthCookie(e)
	e.Auth = nil
	return nil
}

// handleDelete is POST /api/collections/{collection}/delete-anonymous.
func (p *Plugin) handleDelete(e *core.RequestEvent) error {
	if err := p.deleteGuest(e, e.Request.PathValue("collection")); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
