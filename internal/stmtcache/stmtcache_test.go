package stmtcache

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	_ "github.com/pocketbase/pocketbase/migrations"
)

func openTest(t *testing.T, size int) *sql.DB {
	t.Helper()
	db, err := DBConnect(Config{Size: size})(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.DB()
}

// cached reports the SQL texts cached on one connection.
func cached(t *testing.T, c *sql.Conn) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := c.Raw(func(dc any) error {
		for el := dc.(*conn).lru.Front(); el != nil; el = el.Next() {
			got[el.Value.(*entry).query] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mustExec(t *testing.T, e interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := e.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestPragmasMatchPocketBase(t *testing.T) {
	dir := t.TempDir()
	ours, err := DBConnect(Config{})(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := core.DefaultDBConnect(filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	for _, p := range []string{"busy_timeout", "journal_mode", "journal_size_limit", "synchronous", "foreign_keys", "temp_store", "cache_size"} {
		var a, b string
		if err := ours.NewQuery("PRAGMA " + p).Row(&a); err != nil {
			t.Fatal(err)
		}
		if err := theirs.NewQuery("PRAGMA " + p).Row(&b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("PRAGMA %s = %q, PocketBase's DefaultDBConnect has %q", p, a, b)
		}
	}
}

func TestDisabledIsPocketBaseDefault(t *testing.T) {
	db, err := DBConnect(Config{Size: -1})(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, _ := db.DB().Conn(context.Background())
	defer c.Close()
	c.Raw(func(dc any) error {
		if _, ok := dc.(*conn); ok {
			t.Error("Size -1 still wraps the connections")
		}
		return nil
	})
}

func TestReusesStatementsAndSkipsBadSQL(t *testing.T) {
	db := openTest(t, 8)
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExec(t, c, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	for i := 0; i < 3; i++ {
		mustExec(t, c, "INSERT INTO t (v) VALUES (?)", fmt.Sprint("v", i))
	}
	var n int
	if err := c.QueryRowContext(context.Background(), "SELECT count(*) FROM t WHERE v != ?", "x").Scan(&n); err != nil || n != 3 {
		t.Fatalf("count = %d, %v; want 3", n, err)
	}
	got := cached(t, c)
	if !got["INSERT INTO t (v) VALUES (?)"] || !got["SELECT count(*) FROM t WHERE v != ?"] {
		t.Fatalf("not cached: %v", got)
	}
	if _, err := c.ExecContext(context.Background(), "INSERT INTO nope VALUES (1)"); err == nil {
		t.Fatal("no error for a missing table")
	}
	if cached(t, c)["INSERT INTO nope VALUES (1)"] {
		t.Fatal("a statement that failed to prepare was cached")
	}
}

// The same SQL again while its rows are open (a nested query in a
// transaction) must not reset the open rows.
func TestSameQueryWhileRowsOpen(t *testing.T) {
	db := openTest(t, 8)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	for i := 1; i <= 5; i++ {
		mustExec(t, db, "INSERT INTO t (id) VALUES (?)", i)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = "SELECT id FROM t WHERE id >= ? ORDER BY id"
	outer, err := tx.Query(q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for outer.Next() {
		var id int
		outer.Scan(&id)
		ids = append(ids, id)
		var inner []int
		r, err := tx.Query(q, id)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var x int
			r.Scan(&x)
			inner = append(inner, x)
		}
		r.Close()
		if len(inner) != 6-id || inner[0] != id {
			t.Fatalf("inner query from %d = %v", id, inner)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if fmt.Sprint(ids) != "[1 2 3 4 5]" {
		t.Fatalf("outer rows = %v, want [1 2 3 4 5]", ids)
	}
}

// A statement evicted while its rows are open is closed by its rows, and
// the rows stay readable.
func TestEvictWhileRowsOpen(t *testing.T) {
	db := openTest(t, 1)
	c, _ := db.Conn(context.Background())
	defer c.Close()
	mustExec(t, c, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	mustExec(t, c, "INSERT INTO t (id) VALUES (1), (2), (3)")
	r, err := c.QueryContext(context.Background(), "SELECT id FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "INSERT INTO t (id) VALUES (4)") // evicts the SELECT
	var sum int
	for r.Next() {
		var id int
		r.Scan(&id)
		sum += id
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if sum != 6 && sum != 10 {
		t.Fatalf("sum = %d", sum)
	}
	var n int
	if err := c.QueryRowContext(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 4 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

// Schema changes, on the same connection and from another one, reach
// statements already cached: SQLite re-prepares them.
func TestSchemaChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	db1, err := DBConnect(Config{})(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	db1.DB().SetMaxOpenConns(1) // every query on the one cached connection
	other, err := core.DefaultDBConnect(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	exec := func(db *dbx.DB, q string) {
		t.Helper()
		if _, err := db.NewQuery(q).Execute(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	columns := func() []string {
		t.Helper()
		rows, err := db1.DB().Query("SELECT * FROM t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		return cols
	}
	exec(db1, "CREATE TABLE t (a TEXT)")
	exec(db1, "INSERT INTO t VALUES ('x')")
	if c := columns(); len(c) != 1 {
		t.Fatalf("columns = %v", c)
	}
	exec(db1, "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'y'") // same connection
	if c := fmt.Sprint(columns()); c != "[a b]" {
		t.Fatalf("after ALTER on the same connection: columns = %s", c)
	}
	exec(other, "ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'z'") // another connection
	if c := fmt.Sprint(columns()); c != "[a b c]" {
		t.Fatalf("after ALTER from another connection: columns = %s", c)
	}
	exec(other, "DROP TABLE t")
	exec(other, "CREATE TABLE t (d INTEGER)")
	if c := fmt.Sprint(columns()); c != "[d]" {
		t.Fatalf("after DROP + CREATE: columns = %s", c)
	}
	exec(other, "DROP TABLE t")
	if _, err := db1.DB().Query("SELECT * FROM t"); err == nil {
		t.Fatal("no error querying a dropped table through a cached statement")
	}
}

// Through PocketBase: saving a collection (a new field → ALTER TABLE) while
// its record queries are cached.
func TestCollectionSaveThroughPocketBase(t *testing.T) {
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: DBConnect(Config{})})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ResetBootstrapState()
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	col := core.NewBaseCollection("notes")
	col.Fields.Add(&core.TextField{Name: "title"})
	if err := app.Save(col); err != nil {
		t.Fatal(err)
	}
	for round, field := range []string{"body", "tag", "extra"} {
		for i := 0; i < 3; i++ {
			r := core.NewRecord(col)
			r.Set("title", fmt.Sprint("t", i))
			if err := app.Save(r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := app.FindRecordsByFilter("notes", "title != ''", "", 0, 0); err != nil {
			t.Fatal(err)
		}
		col.Fields.Add(&core.TextField{Name: field})
		if err := app.Save(col); err != nil {
			t.Fatal(err)
		}
		r := core.NewRecord(col)
		r.Set("title", "new")
		r.Set(field, "value")
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
		got, err := app.FindFirstRecordByFilter("notes", field+" = 'value'")
		if err != nil {
			t.Fatalf("round %d: the new field through cached statements: %v", round, err)
		}
		if got.GetString(field) != "value" {
			t.Fatalf("round %d: %s = %q", round, field, got.GetString(field))
		}
	}
	all, err := app.FindAllRecords("notes")
	if err != nil || len(all) != 12 {
		t.Fatalf("records = %d, %v; want 12", len(all), err)
	}
}

// Many goroutines over a small pool and a small cache (constant eviction),
// with reads, writes and transactions: run with -race.
func TestConcurrent(t *testing.T) {
	db := openTest(t, 3)
	db.SetMaxOpenConns(6)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, v TEXT)")
	const goroutines, each = 24, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// distinct SQL texts per i%5 so the 3-entry caches churn
				q := fmt.Sprintf("INSERT INTO t (g, v) VALUES (?, ?) -- %d", i%5)
				if _, err := db.Exec(q, g, fmt.Sprint(i)); err != nil {
					errs <- err
					return
				}
				var n int
				if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM t WHERE g = ? -- %d", i%4), g).Scan(&n); err != nil {
					errs <- err
					return
				}
				if n != i+1 {
					errs <- fmt.Errorf("goroutine %d sees %d rows after %d inserts", g, n, i+1)
					return
				}
				if i%10 == 0 {
					tx, err := db.Begin()
					if err != nil {
						errs <- err
						return
					}
					rows, err := tx.Query("SELECT v FROM t WHERE g = ?", g)
					if err != nil {
						tx.Rollback()
						errs <- err
						return
					}
					var c int
					for rows.Next() {
						c++
					}
					rows.Close()
					tx.Rollback()
					if c != i+1 {
						errs <- fmt.Errorf("goroutine %d: tx sees %d rows, want %d", g, c, i+1)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if n != goroutines*each {
		t.Fatalf("rows = %d, want %d", n, goroutines*each)
	}
}

// Record writes and filtered reads from many goroutines while the
// collection gains fields: every statement cached before a change keeps
// working after it (run with -race).
func TestConcurrentCollectionChangesThroughPocketBase(t *testing.T) {
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: DBConnect(Config{Size: 8})})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ResetBootstrapState()
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	col := core.NewBaseCollection("notes")
	col.Fields.Add(&core.TextField{Name: "title"})
	if err := app.Save(col); err != nil {
		t.Fatal(err)
	}

	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				c, err := app.FindCachedCollectionByNameOrId("notes")
				if err != nil {
					errs <- err
					return
				}
				r := core.NewRecord(c)
				r.Set("title", fmt.Sprintf("w%d-%d", w, i))
				if err := app.Save(r); err != nil {
					errs <- fmt.Errorf("save: %w", err)
					return
				}
				got, err := app.FindRecordsByFilter("notes", "title ~ {:p}", "", 0, 0, dbx.Params{"p": fmt.Sprintf("w%d-", w)})
				if err != nil {
					errs <- fmt.Errorf("find: %w", err)
					return
				}
				if len(got) != i+1 {
					errs <- fmt.Errorf("worker %d sees %d of its %d records", w, len(got), i+1)
					return
				}
			}
		}(w)
	}
	for i := 0; i < 4; i++ {
		col.Fields.Add(&core.TextField{Name: fmt.Sprintf("extra%d", i)})
		if err := app.Save(col); err != nil {
			errs <- fmt.Errorf("collection save: %w", err)
			break
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total, err := app.CountRecords("notes")
	if err != nil || total != workers*each {
		t.Fatalf("records = %d, %v; want %d", total, err, workers*each)
	}
	r, err := app.FindFirstRecordByFilter("notes", "extra3 = ''")
	if err != nil || r == nil {
		t.Fatalf("the last added field is not queryable: %v", err)
	}
}
