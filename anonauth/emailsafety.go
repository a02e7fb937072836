package anonauth

import (
	"net/http"
	"net/mail"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Email safety: no email is ever sent to a guest's placeholder address.
//
// The placeholder is a real-looking address on Config.EmailDomain (by default
// example.com, which never receives mail, but an app may configure its own
// domain). Three layers, so no path around one of them reaches a mailbox:
//
//  1. Requests: password reset, verification and OTP requests for a guest
//     are no-ops with the exact response PocketBase gives for an unknown
//     email (204, 204, a random otpId), so they do not reveal that the
//     address is a guest. An email-change request from a guest is refused
//     (400): a guest becomes an account through upgrade-anonymous, which
//     sets a password too.
//  2. Record mails (PocketBase's mails.SendRecord*, whoever calls them, Go or
//     JS): the guest's placeholder is removed from the recipients; a mail
//     left with none is not sent.
//  3. Any mail (OnMailerSend): recipients that match the default placeholder
//     pattern (anonymous-…@EmailDomain) are removed, so an app's own
//     notification code cannot mail a guest either. With a custom
//     Config.GenerateEmail the pattern is unknown and this layer is off.

const emailSafetyHookId = "pocketguestEmailSafety"

func (p *Plugin) registerEmailSafety() {
	p.app.OnRecordRequestPasswordResetRequest().Bind(&hook.Handler[*core.RecordRequestPasswordResetRequestEvent]{
		Id: emailSafetyHookId,
		Func: func(e *core.RecordRequestPasswordResetRequestEvent) error {
			if IsAnonymous(e.Record) {
				return e.NoContent(http.StatusNoContent) // as for an unknown email
			}
			return e.Next()
		},
	})

	p.app.OnRecordRequestVerificationRequest().Bind(&hook.Handler[*core.RecordRequestVerificationRequestEvent]{
		Id: emailSafetyHookId,
		Func: func(e *core.RecordRequestVerificationRequestEvent) error {
			if IsAnonymous(e.Record) {
				return e.NoContent(http.StatusNoContent) // as for an unknown email
			}
			return e.Next()
		},
	})

	p.app.OnRecordRequestOTPRequest().Bind(&hook.Handler[*core.RecordCreateOTPRequestEvent]{
		Id: emailSafetyHookId,
		Func: func(e *core.RecordCreateOTPRequestEvent) error {
			if IsAnonymous(e.Record) {
				e.Record = nil // PocketBase answers a random otpId, as for an unknown email
			}
			return e.Next()
		},
	})

	p.app.OnRecordRequestEmailChangeRequest().Bind(&hook.Handler[*core.RecordRequestEmailChangeRequestEvent]{
		Id: emailSafetyHookId,
		Func: func(e *core.RecordRequestEmailChangeRequestEvent) error {
			if IsAnonymous(e.Record) {
				return errGuestEmailChange()
			}
			return e.Next()
		},
	})

	recordMail := &hook.Handler[*core.MailerRecordEvent]{
		Id:   emailSafetyHookId,
		Func: p.guardRecordMail,
	}
	p.app.OnMailerRecordPasswordResetSend().Bind(recordMail)
	p.app.OnMailerRecordVerificationSend().Bind(recordMail)
	p.app.OnMailerRecordEmailChangeSend().Bind(recordMail)
	p.app.OnMailerRecordOTPSend().Bind(recordMail)
	p.app.OnMailerRecordAuthAlertSend().Bind(recordMail)

	if p.config.GenerateEmail == nil {
		p.app.OnMailerSend().Bind(&hook.Handler[*core.MailerEvent]{
			Id:   emailSafetyHookId,
			Func: p.guardAnyMail,
		})
	}
}

func errGuestEmailChange() *router.ApiError {
	return router.NewBadRequestError("Anonymous accounts cannot change their email; upgrade the account instead (upgrade-anonymous).", nil)
}

// guardRecordMail drops a guest's placeholder from a record mail.
func (p *Plugin) guardRecordMail(e *core.MailerRecordEvent) error {
	if !IsAnonymous(e.Record) || e.Message == nil {
		return e.Next()
	}
	placeholder := strings.ToLower(e.Record.Email())
	if !dropRecipients(e.Message.To, func(a mail.Address) bool { return strings.ToLower(a.Address) == placeholder }, &e.Message.To) {
		return e.Next()
	}
	if len(e.Message.To) == 0 {
		e.App.Logger().Debug("anonauth: not sending a mail to a guest's placeholder address",
			"recordId", e.Record.Id, "subject", e.Message.Subject)
		return nil // not sent, and not an error: as if it had been
	}
	return e.Next()
}

// guardAnyMail drops recipients that look like generated placeholders.
func (p *Plugin) guardAnyMail(e *core.MailerEvent) error {
	if e.Message == nil {
		return e.Next()
	}
	m := e.Message
	dropped := dropRecipients(m.To, p.isPlaceholder, &m.To)
	dropped = dropRecipients(m.Cc, p.isPlaceholder, &m.Cc) || dropped
	dropped = dropRecipients(m.Bcc, p.isPlaceholder, &m.Bcc) || dropped
	if dropped && len(m.To)+len(m.Cc)+len(m.Bcc) == 0 {
		e.App.Logger().Debug("anonauth: not sending a mail to a guest placeholder address", "subject", m.Subject)
		return nil
	}
	return e.Next()
}

// isPlaceholder reports whether address has the shape of a default
// generated guest email (anonymous-<15 chars>@<EmailDomain>).
func (p *Plugin) isPlaceholder(a mail.Address) bool {
	local, domain, ok := strings.Cut(strings.ToLower(a.Address), "@")
	return ok && domain == strings.ToLower(p.config.EmailDomain) &&
		strings.HasPrefix(local, "anonymous-") && len(local) == len("anonymous-")+15
}

// dropRecipients filters list into *out and reports whether any was dropped.
func dropRecipients(list []mail.Address, drop func(mail.Address) bool, out *[]mail.Address) bool {
	kept := list[:0:0]
	for _, a := range list {
		if !drop(a) {
			kept = append(kept, a)
		}
	}
	if len(kept) == len(list) {
		return false
	}
	*out = kept
	return true
}
