package replicate

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// appCheckpointPages is the wal_autocheckpoint of PocketBase's own
// connections to a replicated database (SQLite's default is 1,000 pages).
//
// Litestream keeps a read transaction open so that nobody else restarts
// the WAL before it has copied it, and checkpoints itself after each sync
// once the WAL holds 1,000 pages. Meanwhile the WAL stays above SQLite's
// default threshold, so every commit of the app ran an automatic checkpoint
// that sorted the whole WAL index only to stop at Litestream's read mark:
// 14 % of the server's CPU under the sign-in bench. At 10,000 pages
// (~40 MB) the app checkpoints only when Litestream is not keeping up (not
// attached yet, e.g. while the replica is unreachable at start), so the WAL
// stays bounded either way.
const appCheckpointPages = 10_000

var (
	hookOnce    sync.Once
	replicated  sync.Map // absolute database path → true
	hookPragmas = "PRAGMA wal_autocheckpoint = " + strconv.Itoa(appCheckpointPages)
)

// raiseAutocheckpoint makes every connection opened later to path (by
// PocketBase, through the modernc driver both share) use
// appCheckpointPages. It must run before PocketBase opens its databases.
func raiseAutocheckpoint(path string) {
	if abs, err := filepath.Abs(path); err == nil {
		replicated.Store(abs, true)
	}
	hookOnce.Do(func() { sqlite.RegisterConnectionHook(autocheckpointHook) })
}

func autocheckpointHook(conn sqlite.ExecQuerierContext, dsn string) error {
	if strings.Contains(dsn, "wal_autocheckpoint") {
		return nil // sets its own (Litestream's connection: 0)
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	if _, ok := replicated.Load(abs); !ok {
		return nil
	}
	_, err = conn.ExecContext(context.Background(), hookPragmas, nil)
	return err
}
