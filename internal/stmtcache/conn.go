package stmtcache

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// connector opens the driver's connections and wraps each in a caching conn.
type connector struct {
	driver driver.Driver
	dsn    string
	size   int
}

func (c *connector) Connect(context.Context) (driver.Conn, error) {
	inner, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newConn(inner, c.size)
}

func (c *connector) Driver() driver.Driver { return c.driver }

// innerConn is what the wrapped connection must offer (modernc's conn does).
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// conn is one database connection with its LRU of prepared statements.
// database/sql never uses a connection from two goroutines at once, so
// nothing here is locked.
type conn struct {
	inner innerConn
	size  int
	byKey map[string]*list.Element // SQL text → element of lru
	lru   list.List                // *entry, most recently used first
}

// entry is a cached statement. busy: rows of it are still open, so it
// cannot run again until they close. evicted: it left the cache while busy;
// closing its rows closes it.
type entry struct {
	query   string
	stmt    driver.Stmt
	busy    bool
	evicted bool
}

// cachedStmt is what a cached statement must offer (modernc's stmt does).
type cachedStmt interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

var errNotSupported = errors.New("stmtcache: the sqlite driver's connection lacks the context interfaces")

func newConn(inner driver.Conn, size int) (*conn, error) {
	ic, ok := inner.(innerConn)
	if !ok {
		inner.Close()
		return nil, errNotSupported
	}
	return &conn{inner: ic, size: size, byKey: make(map[string]*list.Element, size)}, nil
}

// Unwrap returns the driver's own connection, for sql.Conn.Raw users that
// need its extra methods (backups, hooks, serialize).
func (c *conn) Unwrap() driver.Conn { return c.inner }

// ExecContext runs query through its cached statement.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil { // in use by open rows: one-off, as without the cache
		return c.inner.ExecContext(ctx, query, args)
	}
	return e.stmt.(cachedStmt).ExecContext(ctx, args)
}

// QueryContext runs query through its cached statement; the statement is
// busy until the rows close.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	e, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.inner.QueryContext(ctx, query, args)
	}
	r, err := e.stmt.(cachedStmt).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	e.busy = true
	return &rows{Rows: r, entry: e}, nil
}

// get returns the cached statement of query, preparing and caching it if
// needed, or nil if it is busy.
func (c *conn) get(ctx context.Context, query string) (*entry, error) {
	if el, ok := c.byKey[query]; ok {
		e := el.Value.(*entry)
		if e.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return e, nil
	}
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := st.(cachedStmt); !ok {
		st.Close()
		return nil, nil
	}
	e := &entry{query: query, stmt: st}
	c.byKey[query] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		c.evict(c.lru.Back())
	}
	return e, nil
}

func (c *conn) evict(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.byKey, e.query)
	if e.busy {
		e.evicted = true // its rows close it
		return
	}
	e.stmt.Close()
}

// Close finalizes every cached statement, then closes the connection.
func (c *conn) Close() error {
	for c.lru.Len() > 0 {
		c.evict(c.lru.Back())
	}
	return c.inner.Close()
}

// The rest is the driver's own, uncached: statements the caller prepares are
// the caller's to close.

func (c *conn) Prepare(query string) (driver.Stmt, error) { return c.inner.Prepare(query) }

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.PrepareContext(ctx, query)
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.inner.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// rows releases its statement for reuse when closed.
type rows struct {
	driver.Rows
	entry *entry
}

func (r *rows) Close() error {
	err := r.Rows.Close() // modernc resets the statement and clears its bindings
	r.entry.busy = false
	if r.entry.evicted {
		if e := r.entry.stmt.Close(); err == nil {
			err = e
		}
	}
	return err
}

// The column type methods database/sql looks for on rows (ColumnTypes), as
// the driver's rows answer them.

func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
