package stmtcache

import (
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	_ "modernc.org/sqlite" // registers the "sqlite" driver PocketBase uses
)

// DefaultSize is the number of prepared statements kept per connection when
// Config.Size is 0: room for the statements an app repeats on a connection
// (a sign-in's inserts and lookups, the request log's insert, its hooks'
// queries), while a connection that sees many one-off queries stays bounded.
const DefaultSize = 64

// Pragmas are PocketBase's DSN pragmas (core.DefaultDBConnect, v0.39.11):
// busy_timeout first, WAL, synchronous NORMAL, foreign keys... A test
// compares every pragma of a connection opened here with one opened by
// core.DefaultDBConnect, so a PocketBase upgrade that changes them fails it.
const Pragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)"

// Config configures the statement cache. The zero value is the default.
type Config struct {
	// Size is the number of prepared statements kept per connection
	// (least recently used evicted first). 0 means DefaultSize; a negative
	// value disables the cache: DBConnect is then core.DefaultDBConnect.
	Size int
}

// DBConnect returns a PocketBase DBConnect function whose connections cache
// their prepared statements.
func DBConnect(cfg Config) core.DBConnectFunc {
	if cfg.Size < 0 {
		return core.DefaultDBConnect
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	return func(dbPath string) (*dbx.DB, error) {
		return Open(dbPath+Pragmas, cfg)
	}
}

// Open opens a database through the registered "sqlite" driver with
// statement-caching connections.
func Open(dsn string, cfg Config) (*dbx.DB, error) {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	drv, err := sqliteDriver()
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(&connector{driver: drv, dsn: dsn, size: cfg.Size})
	return dbx.NewFromDB(db, "sqlite"), nil
}

// sqliteDriver is the driver registered as "sqlite" (sql.Open connects
// nothing; it only looks the name up).
func sqliteDriver() (driver.Driver, error) {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, fmt.Errorf("stmtcache: %w", err)
	}
	defer db.Close()
	return db.Driver(), nil
}
