package anonauth

import (
	"log/slog"

	"github.com/pocketbase/pocketbase/core"
)

// Audit event names, written to PocketBase's logs (Dashboard > Logs) with the
// record id and collection.
const (
	AuditCreated   = "anonymous.created"
	AuditConverted = "anonymous.converted"
	AuditMerged    = "anonymous.merged"
	AuditDeleted   = "anonymous.deleted"

	// AuditMergeSkipped: an OnLink handler did not call e.Next(), so the
	// guest was not merged into the account that signed in (log only).
	AuditMergeSkipped = "anonymous.mergeSkipped"
)

// auditEntry is what an event records beyond the guest record itself, in
// the log line and the anonymousEvents row.
type auditEntry struct {
	accountRef string // merged: the account the guest went into
	ip         string // client IP of the request that did it ("" from Go code or the CLI)
	reason     string // conversion method or deletion reason (auditReason), the stats view's split
}

// audit records a guest lifecycle event. attrs are extra slog key/value
// pairs (e.g. "reason", "cleanup", "age", "720h0m0s").
//
// Converted, merged and deleted events also get an anonymousEvents row
// (stats.go), written through app: call it with the transaction's app, after
// the change it records, so the row commits or rolls back with that change.
// A failure to write the row is logged, never returned: the audit must not
// undo the user's action (the log line still records it).
func (p *Plugin) audit(app core.App, event string, record *core.Record, entry auditEntry, attrs ...any) {
	if entry.accountRef != "" {
		attrs = append(attrs, "accountId", entry.accountRef)
	}
	if entry.ip != "" {
		attrs = append(attrs, "ip", entry.ip)
	}
	p.auditLog(app, event, record, attrs...)
	if entry.reason == "" {
		entry.reason = auditReason(attrs)
	}
	p.auditPersist(app, event, record, entry)
}

// auditReason is what the anonymousEvents row keeps of an event's
// attributes (its reason column): the conversion or merge method
// ("password", "oauth2", "otp") or the deletion reason ("cleanup", "empty",
// "self"), so the stats view can count conversions by code and deletions of
// empty guests.
func auditReason(attrs []any) string {
	for i := 0; i+1 < len(attrs); i += 2 {
		if key, _ := attrs[i].(string); key == "method" || key == "reason" {
			reason, _ := attrs[i+1].(string)
			return reason
		}
	}
	return ""
}

// auditLog writes the log line of an event (PocketBase's logs).
//
// Bulk paths (the cleanup) call it after their commit: every 200th line
// makes PocketBase's log handler write the batch to the auxiliary database
// synchronously, which must not happen while the data database's only
// write lock is held.
func (p *Plugin) auditLog(app core.App, event string, record *core.Record, attrs ...any) {
	args := append([]any{
		slog.String("event", event),
		slog.String("recordId", record.Id),
		slog.String("collection", record.Collection().Name),
	}, attrs...)
	app.Logger().Info(event, args...)
}

// auditPersist writes the anonymousEvents row of a converted, merged or
// deleted event (a no-op for other events), through app (the transaction).
func (p *Plugin) auditPersist(app core.App, event string, record *core.Record, entry auditEntry) {
	if !persistedEvents[event] {
		return
	}
	if err := persistEvent(app, event, record, entry); err != nil {
		app.Logger().Error("anonauth: failed to persist the audit event",
			"event", event, "recordId", record.Id, "error", err)
	}
}

// requestIP is the client IP of e for the audit trail (PocketBase's RealIP,
// which honours the trusted proxy headers of the app's settings), "" when
// there is no request (a call from Go).
func requestIP(e *core.RequestEvent) string {
	if e == nil || e.Request == nil {
		return ""
	}
	return e.RealIP()
}
