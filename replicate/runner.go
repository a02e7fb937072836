package replicate

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
)

// runner is one running replication: a Litestream store with one DB per
// replicated pb_data file.
type runner struct {
	logger   *slog.Logger
	url      replicaURL
	interval time.Duration

	store   *litestream.Store
	dbs     map[string]*replicatedDB // by file name
	names   []string
	ctx     context.Context // cancelled by stop
	cancel  context.CancelFunc
	opening sync.WaitGroup // the open loop

	mu       sync.Mutex
	open     bool  // the store is open (replication running)
	setupErr error // a configuration error that retrying cannot fix
}

// replicatedDB is one pb_data file and its replica.
type replicatedDB struct {
	db     *litestream.DB
	client *statusClient
}

// start begins replicating in the background: the app serves even when the
// replica is unreachable (the state is then "down" and Litestream retries).
func (p *Plugin) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runner != nil || p.stopped {
		return
	}
	r := &runner{
		logger:   p.logger(slog.LevelInfo),
		interval: p.config.SyncInterval,
		dbs:      map[string]*replicatedDB{},
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	p.runner = r

	ru, err := parseReplicaURL(p.config.URL)
	if err != nil {
		r.fail(err)
		return
	}
	r.url = ru

	var dbs []*litestream.DB
	for _, name := range p.databases() {
		inner, err := ru.client(name)
		if err != nil {
			r.fail(err)
			return
		}
		db := litestream.NewDB(p.dbPath(name))
		db.MonitorInterval = r.interval
		client := &statusClient{ReplicaClient: inner}
		replica := litestream.NewReplicaWithClient(db, client)
		replica.SyncInterval = r.interval
		if fc, ok := inner.(*file.ReplicaClient); ok {
			fc.Replica = replica // keeps the replica files' owner and mode like pb_data's
		}
		db.Replica = replica
		r.dbs[name] = &replicatedDB{db: db, client: client}
		r.names = append(r.names, name)
		dbs = append(dbs, db)
	}

	r.store = litestream.NewStore(dbs, slices.Clone(litestream.DefaultCompactionLevels))
	lib := p.logger(slog.LevelWarn)
	r.store.Logger = lib
	for _, name := range r.names {
		rdb := r.dbs[name]
		rdb.db.SetLogger(lib.With("db", name))
		rdb.client.SetLogger(lib.With("db", name))
	}

	r.logger.Info("replication starting", "dbs", r.names, "replica", ru.String(), "syncInterval", r.interval.String())
	r.opening.Add(1)
	go r.openLoop()
}

// fail records a configuration error: replication stays off, the app serves.
func (r *runner) fail(err error) {
	r.mu.Lock()
	r.setupErr = err
	r.mu.Unlock()
	r.logger.Error("replication is OFF: fix the replica URL and restart", "error", err)
}

// openLoop opens the store, retrying with backoff: opening initialises the
// replica client, which for S3 without a region asks AWS where the bucket
// is. Once open, Litestream's own monitors retry failed syncs.
func (r *runner) openLoop() {
	defer r.opening.Done()
	backoff := r.interval
	for {
		err := r.store.Open(r.ctx)
		if err == nil {
			r.mu.Lock()
			r.open = true
			r.mu.Unlock()
			r.logger.Info("replication running", "dbs", r.names, "replica", r.url.String())
			// Litestream attaches to a database on its first sync, one
			// interval from now; attach at once so that a shutdown within
			// that interval still ships what was written, and so that an
			// unusable replica is reported right away.
			for _, name := range r.names {
				if err := r.dbs[name].db.Sync(r.ctx); err != nil && r.ctx.Err() == nil {
					r.logger.Error("first sync to the replica failed; retrying with backoff", "db", name, "error", err)
				}
			}
			return
		}
		if r.ctx.Err() != nil {
			return
		}
		r.logger.Error("cannot open the replica, retrying", "error", err, "retryIn", backoff.String())
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// stop flushes what is left to the replica (bounded by ShutdownTimeout)
// and stops replicating.
func (p *Plugin) stop() {
	p.mu.Lock()
	r := p.runner
	p.stopped = true
	p.mu.Unlock()
	if r == nil || r.store == nil {
		return
	}
	r.cancel()
	r.opening.Wait()
	r.mu.Lock()
	open := r.open
	r.open = false
	r.mu.Unlock()
	if !open {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.config.ShutdownTimeout)
	defer cancel()
	for _, name := range r.names {
		_ = r.dbs[name].db.Sync(ctx) // the last transactions into LTX files; Close uploads them
	}
	if err := r.store.Close(ctx); err != nil {
		r.logger.Error("final sync to the replica failed; the last transactions may be missing from it", "error", err)
		return
	}
	r.logger.Info("replication stopped, replica up to date")
}

// waitSynced makes every transaction committed to dbName so far part of a
// local LTX file (a forced WAL read, which Litestream does every interval
// anyway) and then waits, without forcing the upload, until the replica has
// it. It returns the replicated transaction id.
func (r *runner) waitSynced(ctx context.Context, dbName string) (uint64, error) {
	rdb := r.dbs[dbName]
	if rdb == nil || !r.isOpen() {
		return 0, fmt.Errorf("replication of %s is not running", dbName)
	}
	if err := rdb.db.Sync(ctx); err != nil {
		return 0, fmt.Errorf("read the WAL of %s: %w", dbName, err)
	}
	pos, err := rdb.db.Pos()
	if err != nil {
		return 0, err
	}
	tick := time.NewTicker(max(r.interval/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		if got := rdb.db.Replica.Pos().TXID; got >= pos.TXID {
			return uint64(got), nil
		}
		select {
		case <-ctx.Done():
			last, _ := rdb.client.lastError()
			if last != "" {
				return 0, fmt.Errorf("%w (last replica error: %s)", ctx.Err(), last)
			}
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func (r *runner) isOpen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open
}
