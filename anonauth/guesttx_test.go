package anonauth_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// mustSentinel checks that err matches sentinel with errors.Is and is an
// ApiError of status for errors.As.
func mustSentinel(t testing.TB, err error, sentinel error, status int) {
	t.Helper()
	var apiErr *router.ApiError
	if !errors.Is(err, sentinel) || !errors.As(err, &apiErr) || apiErr.Status != status {
		t.Fatalf("got %v (%T), want %v as a %d ApiError", err, err, sentinel, status)
	}
}

// Plugin.Convert, the one way a guest becomes a full account.
func TestConvert(t *testing.T) {
	t.Parallel()
	app := shopApp(t, anonauth.Config{})
	p := anonauth.FromApp(app)

	t.Run("converts, rotates the token key, audits", func(t *testing.T) {
		guest, token := guestToken(t, app, "users")
		rec, err := p.Convert(app, guest, "phone", func(txApp core.App, r *core.Record) error {
			if !txApp.IsTransactional() {
				t.Error("apply must run inside the transaction")
			}
			r.Set("name", "Phone User")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Id != guest.Id || anonauth.IsAnonymous(rec) || rec.GetString("name") != "Phone User" {
			t.Fatalf("not converted in place: %v", rec)
		}
		if tokenRecordId(app, token) != "" {
			t.Fatal("the guest token still works after the conversion")
		}
		fresh, err := p.NewToken(rec)
		if err != nil || tokenRecordId(app, fresh) != guest.Id {
			t.Fatalf("a token of the converted record does not work: %v", err)
		}
		if n, _ := app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": anonauth.AuditConverted, "recordRef": guest.Id}); n != 1 {
			t.Fatalf("converted events = %d, want 1", n)
		}
	})

	t.Run("an apply error rolls back: still a guest, token alive", func(t *testing.T) {
		guest, token := guestToken(t, app, "users")
		boom := errors.New("boom")
		if _, err := p.Convert(app, guest, "phone", func(core.App, *core.Record) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the apply error", err)
		}
		mustGuest(t, app, guest)
		if tokenRecordId(app, token) != guest.Id {
			t.Fatal("a failed conversion killed the guest token")
		}
	})

	t.Run("stale guests: ErrAlreadyConverted (also ErrNotAnonymous), ErrGuestGone", func(t *testing.T) {
		guest, _ := guestToken(t, app, "users")
		if _, err := p.Convert(app, guest, "x", nil); err != nil {
			t.Fatal(err)
		}
		_, err := p.Convert(app, guest, "x", nil) // the stale in-memory copy still says anonymous
		mustSentinel(t, err, anonauth.ErrAlreadyConverted, http.StatusBadRequest)
		mustSentinel(t, err, anonauth.ErrNotAnonymous, http.StatusBadRequest)

		gone, _ := guestToken(t, app, "users")
		if err := app.Delete(gone); err != nil {
			t.Fatal(err)
		}
		_, err = p.Convert(app, gone, "x", nil)
		mustSentinel(t, err, anonauth.ErrGuestGone, http.StatusNotFound)
	})

	t.Run("not a guest: ErrNotAnonymous", func(t *testing.T) {
		account, err := app.FindAuthRecordByEmail("users", "test@example.com")
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Convert(app, account, "x", nil)
		mustSentinel(t, err, anonauth.ErrNotAnonymous, http.StatusBadRequest)
	})
}

// The sentinels of the request-level Go API.
func TestRequestSentinels(t *testing.T) {
	t.Parallel()
	app := shopApp(t, anonauth.Config{})
	p := anonauth.FromApp(app)

	e, _ := newRequestEvent(app)
	_, err := p.Upgrade(e, anonauth.UpgradeInput{Email: "a@example.com", Password: "12345678", PasswordConfirm: "12345678"})
	mustSentinel(t, err, anonauth.ErrNoSession, http.StatusUnauthorized)

	guest, _ := guestToken(t, app, "users")
	e, _ = newRequestEvent(app)
	e.Auth = guest
	_, err = p.Upgrade(e, anonauth.UpgradeInput{Email: "test@example.com", Password: "12345678", PasswordConfirm: "12345678"})
	mustSentinel(t, err, anonauth.ErrEmailInUse, http.StatusConflict)

	if err := app.Delete(guest); err != nil {
		t.Fatal(err)
	}
	e, _ = newRequestEvent(app)
	e.Auth = guest // loaded before a concurrent delete
	mustSentinel(t, p.DeleteAnonymous(e), anonauth.ErrGuestGone, http.StatusNotFound)

	account, _ := app.FindAuthRecordByEmail("users", "test@example.com")
	mustSentinel(t, p.Link(app, account, account), anonauth.ErrNotAnonymous, http.StatusBadRequest)
	other, _ := guestToken(t, app, "users")
	mustSentinel(t, p.Link(app, other, other), anonauth.ErrLinkInvalid, http.StatusBadRequest)

	disabled := shopApp(t, anonauth.Config{DisableDelete: true})
	e, _ = newRequestEvent(disabled)
	mustSentinel(t, anonauth.FromApp(disabled).DeleteAnonymous(e), anonauth.ErrDeleteDisabled, http.StatusNotFound)
}
