package anonauth

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"
)

// DeleteAnonymous deletes the request's own guest record (and, through
// PocketBase's cascade, whatever its relations say goes with it), clears the
// pb_auth cookie and e.Auth.
//
// Errors (*router.ApiError): 404 when Config.DisableDelete is set, 401 no
// session, 400 the caller is not anonymous (also when a concurrent upgrade
// won), 404 the guest is already gone.
func (p *Plugin) DeleteAnonymous(e *core.RequestEvent) error {
	if p.config.DisableDelete {
		return errDeleteDisabled()
	}
	guest, err := p.requestGuest(e, "")
	if err != nil {
		return err
	}

	err = e.App.RunInTransaction(func(txApp core.App) error {
		if err := lockForWrite(txApp, guest.Collection().Name); err != nil {
			return err
		}
		fresh, err := txApp.FindRecordById(guest.Collection(), guest.Id)
		if err != nil {
			return errGuestGone()
		}
		if !IsAnonymous(fresh) {
			return errAlreadyConverted()
		}
		if err := txApp.Delete(fresh); err != nil {
			return err
		}
		p.audit(txApp, AuditDeleted, fresh, "reason", "self")
		return nil
	})
	if err != nil {
		return err
	}

	ClearAuthCookie(e)
	e.Auth = nil
	return nil
}

// handleDelete is POST /api/collections/{collection}/delete-anonymous.
func (p *Plugin) handleDelete(e *core.RequestEvent) error {
	if p.config.DisableDelete {
		return errDeleteDisabled()
	}
	if _, err := p.requestGuest(e, e.Request.PathValue("collection")); err != nil {
		return err
	}
	if err := p.DeleteAnonymous(e); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
