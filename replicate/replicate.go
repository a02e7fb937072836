// Package replicate streams PocketBase's database to a replica (a directory
// or any S3-compatible bucket) while the app serves, and restores it onto an
// empty pb_data before the app starts. It embeds Litestream
// (github.com/benbjohnson/litestream), which reads SQLite's write-ahead log
// with the same pure-Go driver PocketBase uses (modernc.org/sqlite), so the
// binary stays one static, CGO-free file.
//
// It is a plugin in the style of PocketBase's own (plugins/jsvm,
// plugins/migratecmd):
//
//	app := pocketbase.New()
//
//	replicate.MustRegister(app, replicate.Config{
//		URL:              "s3://my-bucket/pocketguest?endpoint=https://s3.example.com&region=eu-1",
//		RestoreIfMissing: true, // empty pb_data: pull data.db from the replica first
//	})
//
// What it does:
//
//   - Under `serve`, every transaction committed to pb_data/data.db (and
//     auxiliary.db with Config.Auxiliary) is shipped to the replica within
//     about two Config.SyncInterval: one to copy it out of the WAL, one to
//     upload it. Upload errors are logged and retried with exponential
//     backoff; the app keeps serving.
//   - With Config.RestoreIfMissing, a missing data.db is restored from the
//     replica before PocketBase opens it. An empty or unreadable replica is
//     an error (the command exits 1) and nothing is written to pb_data.
//   - GET /api/health answers superusers with data.replication (state,
//     positions, lag, last error). POST /api/replication/sync (superusers)
//     waits until everything committed before the call is on the replica.
//
// Replica URLs (credentials never go in the URL):
//
//	file:///var/backups/pocketguest
//	s3://bucket/path                        AWS; region from ?region= or looked up
//	s3://bucket/path?endpoint=http://minio:9000&region=us-east-1
//
// S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or
// LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY, or the usual AWS
// credential chain). Each database gets its own folder under the URL's path:
// <path>/data.db/ and <path>/auxiliary.db/.
package replicate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// DefaultSyncInterval is the sync interval used when Config.SyncInterval is
// zero (Litestream's own default).
const DefaultSyncInterval = time.Second

// Config defines the options of the replicate plugin. Its zero value
// replicates nothing: Register is a no-op without a URL.
type Config struct {
	// URL is where the replica lives: file:///absolute/dir or
	// s3://bucket/path[?endpoint=...&region=...&forcePathStyle=true].
	//
	// If empty, replication and restore are off.
	URL string

	// SyncInterval is how often new transactions are copied out of the WAL
	// and how often they are uploaded. A transaction reaches the replica
	// within about two intervals; a disk lost before that loses it.
	//
	// If zero it falls back to DefaultSyncInterval (1s).
	SyncInterval time.Duration

	// Auxiliary also replicates (and restores) auxiliary.db, PocketBase's
	// request and app logs. Off by default: logs are large, churn a lot and
	// are rarely worth restoring.
	Auxiliary bool

	// RestoreIfMissing restores data.db (and auxiliary.db with Auxiliary)
	// from the replica when it does not exist in pb_data, before PocketBase
	// opens it. An existing database is never overwritten. An empty,
	// unreachable or corrupt replica fails the start-up.
	RestoreIfMissing bool

	// ShutdownTimeout bounds the final sync on a graceful shutdown
	// (SIGINT/SIGTERM): an unreachable replica cannot hold the process.
	//
	// If zero it falls back to 10s.
	ShutdownTimeout time.Duration
}

// Plugin is a registered replicate instance. It is safe for concurrent use.
type Plugin struct {
	app    core.App
	config Config

	mu      sync.Mutex
	runner  *runner // set once replication started (OnServe)
	stopped bool
}

// MustRegister registers the replicate plugin in app and panics on error.
func MustRegister(app core.App, config Config) *Plugin {
	p, err := Register(app, config)
	if err != nil {
		panic(err)
	}
	return p
}

// Register registers the replicate plugin in app. With an empty
// Config.URL it registers nothing and returns a Plugin that reports the
// replication as off.
func Register(app core.App, config Config) (*Plugin, error) {
	if config.SyncInterval < 0 {
		return nil, errors.New("replicate: the sync interval (--replicateSyncInterval) must not be negative")
	}
	if config.SyncInterval == 0 {
		config.SyncInterval = DefaultSyncInterval
	}
	if config.ShutdownTimeout <= 0 {
		config.ShutdownTimeout = 10 * time.Second
	}
	p := &Plugin{app: app, config: config}
	if config.URL == "" {
		if config.RestoreIfMissing {
			return nil, errors.New("replicate: RestoreIfMissing needs a replica URL (--replicate)")
		}
		return p, nil
	}

	if _, err := parseReplicaURL(config.URL); err == nil {
		for _, name := range p.databases() {
			raiseAutocheckpoint(p.dbPath(name))
		}
	}

	// First of all bootstrap handlers: the database must be in place before
	// PocketBase (or any other plugin) opens it.
	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{
		Id:       "pocketguestReplicateRestore",
		Priority: -1_000_000,
		Func: func(e *core.BootstrapEvent) error {
			if config.RestoreIfMissing {
				if err := p.restoreMissing(e); err != nil {
					return err
				}
			}
			return e.Next()
		},
	})

	// Replicate under `serve` only: one-off commands (migrate, superuser,
	// anonymous cleanup) write to the same WAL, and the serving process
	// ships their transactions too.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "pocketguestReplicate",
		Func: func(e *core.ServeEvent) error {
			p.bindRoutes(e)
			p.start()
			return e.Next()
		},
	})

	// After PocketBase closed its connections: the final sync then sees
	// every committed transaction, and Litestream's handle is the last one.
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "pocketguestReplicateStop",
		Func: func(e *core.TerminateEvent) error {
			err := e.Next()
			p.stop()
			return err
		},
	})

	return p, nil
}

// databases returns the pb_data file names this plugin replicates.
func (p *Plugin) databases() []string {
	if p.config.Auxiliary {
		return []string{"data.db", "auxiliary.db"}
	}
	return []string{"data.db"}
}

func (p *Plugin) dbPath(name string) string {
	return filepath.Join(p.app.DataDir(), name)
}

// logger writes to stderr (an operator watches the process output) and,
// once PocketBase is bootstrapped and not in dev mode (which already prints
// its logs), to the app's logs as well. Records below level are dropped:
// the plugin's own lines are Info, Litestream's are kept from Warn up (its
// Info lines report every compaction).
func (p *Plugin) logger(level slog.Level) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	switch {
	case !p.app.IsBootstrapped():
	case p.app.IsDev():
		h = minLevel{p.app.Logger().Handler(), level}
	default:
		h = slog.NewMultiHandler(h, minLevel{p.app.Logger().Handler(), level})
	}
	return slog.New(h).With("plugin", "replicate")
}

// minLevel drops the records of a handler below a level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.level {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
