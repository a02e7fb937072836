package replicate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/benbjohnson/litestream"
	"github.com/pocketbase/pocketbase/core"
)

// ErrReplicaEmpty is returned by Restore when the replica holds no backup
// of the database (a wrong URL or path, or nothing replicated yet).
var ErrReplicaEmpty = errors.New("the replica holds no backup")

// ErrDatabaseExists is returned by Restore when the target database (or a
// WAL left behind by one) already exists: a restore never overwrites.
var ErrDatabaseExists = errors.New("the database already exists")

// Restore writes the newest state of dbName ("data.db" or "auxiliary.db")
// held by the replica at replicaURL into dataDir/dbName.
//
// It refuses to overwrite (ErrDatabaseExists) and fails with ErrReplicaEmpty
// when there is nothing to restore. The database is assembled and checked
// (PRAGMA quick_check) in a temporary folder inside dataDir and moved into
// place only when complete, so a failed restore leaves no database behind.
func Restore(ctx context.Context, replicaURL, dataDir, dbName string) error {
	ru, err := parseReplicaURL(replicaURL)
	if err != nil {
		return err
	}
	return restore(ctx, ru, dataDir, dbName, slog.New(slog.DiscardHandler))
}

func restore(ctx context.Context, ru replicaURL, dataDir, dbName string, logger *slog.Logger) (err error) {
	target := filepath.Join(dataDir, dbName)
	for _, f := range []string{target, target + "-wal"} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("restore %s: %w: %s", dbName, ErrDatabaseExists, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore %s: %w", dbName, err)
		}
	}

	client, err := ru.client(dbName)
	if err != nil {
		return fmt.Errorf("restore %s from %s: %w", dbName, ru, err)
	}
	client.SetLogger(logger)
	if err := client.Init(ctx); err != nil {
		return fmt.Errorf("restore %s from %s: %w", dbName, ru, err)
	}

	// pb_data may not exist yet on a new machine; if this call creates it
	// and fails, it removes it again.
	if _, statErr := os.Stat(dataDir); errors.Is(statErr, fs.ErrNotExist) {
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("restore %s: %w", dbName, err)
		}
		defer func() {
			if err != nil {
				_ = os.Remove(dataDir) // only if still empty
			}
		}()
	}
	// A restore killed half-way leaves its staging folder behind.
	if stale, _ := filepath.Glob(filepath.Join(dataDir, ".restore-*")); len(stale) > 0 {
		for _, dir := range stale {
			_ = os.RemoveAll(dir)
		}
	}
	staging, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return fmt.Errorf("restore %s: %w", dbName, err)
	}
	defer os.RemoveAll(staging)

	replica := litestream.NewReplicaWithClient(nil, client)
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = filepath.Join(staging, dbName)
	opt.IntegrityCheck = litestream.IntegrityCheckQuick
	if err := replica.Restore(ctx, opt); err != nil {
		if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
			return fmt.Errorf("restore %s from %s: %w (is the URL right? was anything replicated?)", dbName, ru, ErrReplicaEmpty)
		}
		return fmt.Errorf("restore %s from %s: %w", dbName, ru, err)
	}
	if err := os.Rename(opt.OutputPath, target); err != nil {
		return fmt.Errorf("restore %s: %w", dbName, err)
	}
	return nil
}

// restoreMissing runs before PocketBase opens its databases
// (Config.RestoreIfMissing). data.db must come back; auxiliary.db (logs) is
// restored when replicated and present, and otherwise starts empty.
func (p *Plugin) restoreMissing(e *core.BootstrapEvent) error {
	logger := p.logger(slog.LevelInfo)
	ru, err := parseReplicaURL(p.config.URL)
	if err != nil {
		return fmt.Errorf("--restoreIfMissing: %w", err)
	}
	ctx := context.Background()
	for _, name := range p.databases() {
		if _, err := os.Stat(p.dbPath(name)); err == nil {
			logger.Info("database exists, not restoring", "db", name)
			continue
		}
		logger.Info("database missing, restoring from the replica", "db", name, "replica", ru.String())
		err := restore(ctx, ru, e.App.DataDir(), name, logger)
		switch {
		case err == nil:
			logger.Info("database restored", "db", name)
		case name != "data.db" && errors.Is(err, ErrReplicaEmpty):
			logger.Warn("no backup of the logs database; starting it empty", "db", name)
		default:
			return fmt.Errorf("--restoreIfMissing: %w", err)
		}
	}
	return nil
}
