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
func (p *Plugin) audit(app core.App, event string, record *core.Record, attrs ...any) {
	args := append([]any{
		slog.String("event", event),
		slog.String("recordId", record.Id),
		slog.String("collection", record.Collection().Name),
	}, attrs...)
	app.Logger().Info(event, args...)
}
