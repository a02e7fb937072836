package anonauth_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
)

// TestLockForWriteTakesTheWriteLockFirst: a transaction that calls
// lockForWrite holds SQLite's write lock before its first read, so a second
// process (the cleanup CLI next to a serving binary) waits instead of
// making the transaction fail later with SQLITE_BUSY_SNAPSHOT.
func TestLockForWriteTakesTheWriteLockFirst(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()

	// A second connection, like a second process: no busy wait, so a held
	// lock shows at once.
	other, err := sql.Open("sqlite", filepath.Join(app.DataDir(), "data.db")+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	write := func() error {
		_, err := other.Exec("UPDATE users SET name = name WHERE id = 'nope'")
		return err
	}
	if err := write(); err != nil {
		t.Fatalf("precondition: the second connection can write: %v", err)
	}

	errHeld := errors.New("held")
	err = app.RunInTransaction(func(txApp core.App) error {
		if err := anonauth.LockForWrite(txApp, "users"); err != nil {
			return err
		}
		if err := write(); err == nil || !strings.Contains(err.Error(), "locked") {
			t.Fatalf("another writer got in while the lock was held: %v", err)
		}
		return errHeld
	})
	if !errors.Is(err, errHeld) {
		t.Fatal(err)
	}
	if err := write(); err != nil {
		t.Fatalf("the lock must be released with the transaction: %v", err)
	}
}
