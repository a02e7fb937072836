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
)

// audit records a guest lifecycle event. attrs are extra slog key/value
// pairs (e.g. "reason", "cleanup", "age", "720h0m0s").
//
// Converted, merged and deleted events also get an anonymousEvents row
// (stats.go), written through app: call it with the transaction's app, after
// the change it records, so the row commits or rolls back with that change.
// A failure to write the row is logged, never returned: the audit must not
// undo the user's action (the log line still records it).
func (p *Plugin) audit(app core.App, event string, record *core.Record, attrs ...any) {
	args := append([]any{
		slog.String("event", event),
		slog.String("recordId", record.Id),
		slog.String("collection", record.Collection().Name),
	}, attrs...)
	app.Logger().Info(event, args...)

	if persistedEvents[event] {
		if err := persistEvent(app, event, record); err != nil {
			app.Logger().Error("anonauth: failed to persist the audit event",
				"event", event, "recordId", record.Id, "error", err)
		}
	}
}
