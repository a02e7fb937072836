// Package stmtcache keeps each SQLite connection's prepared statements for
// reuse, below PocketBase and without forking it.
//
// PocketBase's query layer (dbx) hands every query to database/sql as SQL
// text, so the driver parses and plans the same few statements again on
// every request (the guest insert, the auth collection lookups, the request
// log insert...). This package wraps the driver's connections: ExecContext
// and QueryContext look the SQL text up in a small per-connection LRU of
// prepared statements and run the cached statement (modernc.org/sqlite keeps
// its sqlite3_stmt across runs, resetting and clearing bindings after each).
//
// It is installed through PocketBase's DBConnect option:
//
//	app := pocketbase.NewWithConfig(pocketbase.Config{
//		DBConnect: stmtcache.DBConnect(stmtcache.Config{}),
//	})
//
// Why it is safe:
//   - a connection is used by one goroutine at a time (database/sql's
//     contract), so each cache belongs to one connection and is closed with
//     it;
//   - a statement whose rows are still open is never reused: a second query
//     with the same SQL on that connection (inside a transaction) prepares a
//     one-off statement, as without the cache;
//   - schema changes (a collection save, ALTER/DROP TABLE, another process's
//     migration) need nothing from us: SQLite re-prepares a statement whose
//     schema changed on its next step (sqlite3_prepare_v2, SQLITE_SCHEMA);
//   - statements prepared explicitly (db.Prepare) are not cached: their
//     owner closes them.
//
// The connections use PocketBase's own DSN pragmas (see [Pragmas]).
package stmtcache
