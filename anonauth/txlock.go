package anonauth

import "github.com/pocketbase/pocketbase/core"

// lockForWrite makes the current transaction SQLite's writer before it reads
// anything, like BEGIN IMMEDIATE (which dbx cannot issue).
//
// Why: inside one server every write goes through PocketBase's single write
// connection, so transactions never overlap. But the `anonymous cleanup` CLI
// is a second process on the same database. In WAL mode a transaction that
// reads first and writes later fails at once with SQLITE_BUSY_SNAPSHOT
// ("database is locked (517)", no busy_timeout wait) if the other process
// committed in between — found by the load bench running the CLI against a
// busy server. Taking the write lock first makes the transaction wait (up to
// PocketBase's busy_timeout) instead, and its reads then see the latest
// data. A no-op UPDATE takes the lock: SQLite opens a write transaction for
// any UPDATE, matching rows or not.
func lockForWrite(txApp core.App, table string) error {
	_, err := txApp.DB().NewQuery("UPDATE {{" + table + "}} SET [[id]] = [[id]] WHERE 0").Execute()
	return err
}
