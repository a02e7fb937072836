package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the same pure-Go SQLite driver PocketBase uses
)

// Seeding puts N guest rows straight into pb_data/data.db while the server
// is stopped. Creating a million guests through the API would take minutes
// and measure the API again; here SQLite generates the rows itself:
//
//  1. drop the users table's secondary indexes (email, tokenKey, ...), so
//     the insert is a plain append instead of N random B-tree inserts;
//  2. one INSERT ... SELECT over a recursive counter CTE (no Go round trip
//     per row), in one transaction, with the rollback journal off;
//  3. recreate the indexes from their saved SQL (CREATE INDEX sorts once,
//     far faster than maintaining them row by row).
//
// The rows look like real guests to PocketBase and to anonauth: a 15-char
// [a-z0-9] id, a unique placeholder email, an unusable password hash, a
// random 50-char tokenKey, isAnonymous = 1, verified = 0.

// seedGuests inserts n guest rows into the users collection of dataDir,
// created (and last active) at `at`. It returns how long it took.
func seedGuests(ctx context.Context, dataDir string, n int, at time.Time) (time.Duration, error) {
	if n <= 0 {
		return 0, nil
	}
	started := time.Now()

	db, err := sql.Open("sqlite", filepath.Join(dataDir, "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // pragmas are per connection

	columns, err := tableColumns(ctx, db, "users")
	if err != nil {
		return 0, err
	}
	if !columns["isAnonymous"] {
		return 0, fmt.Errorf("users has no isAnonymous column: start the server once on this pb_data first")
	}

	for _, pragma := range []string{
		"PRAGMA journal_mode = OFF", // a fresh copy: nothing to roll back to
		"PRAGMA synchronous = OFF",
		"PRAGMA cache_size = -262144", // 256 MB for the index builds
		"PRAGMA temp_store = MEMORY",
	} {
		if _, err := db.ExecContext(ctx, pragma); err != nil {
			return 0, fmt.Errorf("%s: %w", pragma, err)
		}
	}

	indexes, err := secondaryIndexes(ctx, db, "users")
	if err != nil {
		return 0, err
	}

	var offset int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&offset); err != nil {
		return 0, err
	}

	ts := at.UTC().Format("2006-01-02 15:04:05.000Z")

	// Optional columns: a last-activity field (lifecycle) is set to `at`
	// too, so "stale" guests are stale by every measure.
	extraCols, extraVals := "", ""
	for _, c := range []string{"lastActiveAt", "lastActivity", "lastActive", "lastSeen", "lastSeenAt"} {
		if columns[c] {
			extraCols += ", [[" + c + "]]"
			extraVals += ", '" + ts + "'"
		}
	}

	insert := strings.NewReplacer("[[", `"`, "]]", `"`).Replace(`
		WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?)
		INSERT INTO [[users]] ([[id]], [[email]], [[emailVisibility]], [[verified]], [[password]], [[tokenKey]],
			[[isAnonymous]], [[created]], [[updated]]` + extraCols + `)
		SELECT printf('zzseed%09d', x + ?), 'anonymous-seed' || (x + ?) || '@example.com', 0, 0,
			'!anonymous:seed', lower(hex(randomblob(25))), 1, ?, ?` + extraVals + `
		FROM seq`)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	for _, idx := range indexes {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+idx.name+`"`); err != nil {
			return 0, fmt.Errorf("drop index %s: %w", idx.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, insert, n, offset, offset, ts, ts); err != nil {
		return 0, fmt.Errorf("insert %d guests: %w", n, err)
	}
	for _, idx := range indexes {
		if _, err := tx.ExecContext(ctx, idx.sql); err != nil {
			return 0, fmt.Errorf("recreate index %s: %w", idx.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}

	// Hand the file back in the WAL mode PocketBase runs it in.
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return 0, err
	}

	return time.Since(started), nil
}

func tableColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		cols[name] = true
	}
	return cols, rows.Err()
}

type index struct{ name, sql string }

// secondaryIndexes lists the explicit indexes of table (the ones with SQL;
// the primary key's automatic index cannot be dropped and has none).
func secondaryIndexes(ctx context.Context, db *sql.DB, table string) ([]index, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []index
	for rows.Next() {
		var idx index
		if err := rows.Scan(&idx.name, &idx.sql); err != nil {
			return nil, err
		}
		out = append(out, idx)
	}
	return out, rows.Err()
}
