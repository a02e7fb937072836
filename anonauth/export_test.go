package anonauth

// Internals exported to the external tests (package anonauth_test) only.

// ActivityWrites returns how many lastSeen rows the activity flusher has
// written.
func ActivityWrites(p *Plugin) int64 { return p.activity.writes.Load() }

// LockForWrite is lockForWrite.
var LockForWrite = lockForWrite
