package anonauth

import (
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Last activity tracking.
//
// A guest's last activity is its lastSeen field: stamped by PocketBase at
// sign-in (an autodate, see stats.go), then moved forward by every request
// that carries the guest's session, auth-refresh included. Writing it on
// every request would put a write (SQLite has one writer) on every read, so a
// middleware right after pbLoadAuthToken only notes the activity in memory,
// and a background flusher writes what was noted once per
// Config.ActivityInterval: at most one write per guest per interval, however
// many requests it makes.
//
// The stored value is exact (the time of the guest's last request), just up
// to one interval late. Cleanup flushes before it looks, and skips a guest
// whose activity is still pending.

// activityMiddlewareId identifies the activity middleware so apps can unbind
// it.
const activityMiddlewareId = "pocketguestActivity"

// activityFlushBatch bounds one flush transaction, so the write lock is held
// for a few milliseconds at a time.
const activityFlushBatch = 500

// maxPendingActivity bounds the tracker's memory (~100 bytes per guest): when
// this many guests are pending, the flusher is woken early. Only an app with
// more active guests than this per interval writes a guest twice in one.
const maxPendingActivity = 100_000

type activityKey struct {
	collectionId string
	id           string
}

type activityTracker struct {
	interval time.Duration
	now      func() time.Time // replaced in tests

	mu      sync.Mutex
	pending map[activityKey]time.Time // guest → last activity not yet written

	flushMu sync.Mutex    // one flush at a time
	wake    chan struct{} // early flush when pending is full
	started bool
	stop    chan struct{}
	done    chan struct{}
}

func newActivityTracker(interval time.Duration) *activityTracker {
	return &activityTracker{
		interval: interval,
		now:      time.Now,
		pending:  make(map[activityKey]time.Time),
		wake:     make(chan struct{}, 1),
	}
}

// registerActivity binds the activity middleware and the flusher's lifetime
// (started by serve, stopped with a final flush on terminate).
func (p *Plugin) registerActivity() {
	p.activity = newActivityTracker(p.config.ActivityInterval)
	p.activity.now = func() time.Time { return p.now() } // the plugin's clock, replaceable in tests

	p.app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       activityMiddlewareId,
			Priority: priorityActivity, // hookorder.go
			Func: func(e *core.RequestEvent) error {
				p.NoteActivity(e.Auth)
				return e.Next()
			},
		})
		p.activity.start(p)
		return se.Next()
	})

	p.app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		p.activity.halt()
		if err := p.FlushActivity(); err != nil {
			e.App.Logger().Error("anonauth: failed to flush guest activity on terminate", "error", err)
		}
		return e.Next()
	})
}

// NoteActivity records that record (if it is a guest of an enabled
// collection) was active now. It costs a map write; the database write
// happens at the next flush. The middleware calls it for every request; call
// it yourself for activity that does not come through the router.
func (p *Plugin) NoteActivity(record *core.Record) {
	if !IsAnonymous(record) || !p.IsEnabled(record.Collection().Name) {
		return
	}
	t := p.activity
	now := t.now()
	key := activityKey{collectionId: record.Collection().Id, id: record.Id}

	t.mu.Lock()
	t.pending[key] = now
	full := len(t.pending) >= maxPendingActivity
	t.mu.Unlock()

	if full {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// FlushActivity writes every pending guest activity now (the flusher calls
// it once per Config.ActivityInterval; cleanup and terminate call it too).
//
// It writes with a direct UPDATE of the lastSeen column through the query
// builder, not app.Save, because:
//   - app.Save writes the whole record from an in-memory copy; the copy the
//     middleware saw may be minutes old, so a Save would overwrite an upgrade
//     or a merge committed since (even flip isAnonymous back). A one-column
//     UPDATE cannot clobber anything else.
//   - app.Save of an auth record validates every field, lists the auth
//     collections, fires OnRecordUpdate hooks and realtime "update" events,
//     and bumps "updated", all for bookkeeping that no user made.
//   - Many guests go in one short transaction, with one prepared statement.
//
// lastSeen only moves forward (the UPDATE keeps a newer stored value), and a
// guest deleted meanwhile is simply not matched.
func (p *Plugin) FlushActivity() error {
	t := p.activity
	t.flushMu.Lock()
	defer t.flushMu.Unlock()

	t.mu.Lock()
	batch := t.pending
	t.pending = make(map[activityKey]time.Time, len(batch))
	t.mu.Unlock()

	if len(batch) == 0 {
		return nil
	}

	byCollection := map[string][]activityKey{}
	for key := range batch {
		byCollection[key.collectionId] = append(byCollection[key.collectionId], key)
	}

	var firstErr error
	for collectionId, keys := range byCollection {
		collection, err := p.app.FindCachedCollectionByNameOrId(collectionId)
		if err != nil || collection.Fields.GetByName(FieldLastSeen) == nil {
			continue // collection deleted or schema not ensured yet: nothing to write to
		}
		for start := 0; start < len(keys); start += activityFlushBatch {
			chunk := keys[start:min(start+activityFlushBatch, len(keys))]
			if err := t.write(p.app, collection, chunk, batch); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				t.requeue(chunk, batch) // try again at the next flush
			}
		}
	}
	return firstErr
}

func (t *activityTracker) write(app core.App, collection *core.Collection, keys []activityKey, seen map[activityKey]time.Time) error {
	return app.RunInTransaction(func(txApp core.App) error {
		if err := lockForWrite(txApp, collection.Name); err != nil {
			return err
		}
		q := txApp.DB().NewQuery("UPDATE {{" + collection.Name + "}} SET [[" + FieldLastSeen + "]] = {:t}" +
			" WHERE [[id]] = {:id} AND [[" + FieldLastSeen + "]] < {:t}")
		q.Prepare()
		defer q.Close()
		for _, key := range keys {
			dt, err := types.ParseDateTime(seen[key])
			if err != nil {
				return err
			}
			if _, err := q.Bind(dbx.Params{"t": dt.String(), "id": key.id}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// requeue puts back activity whose write failed, unless newer activity of
// the same guest arrived meanwhile.
func (t *activityTracker) requeue(keys []activityKey, seen map[activityKey]time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, key := range keys {
		if cur, ok := t.pending[key]; !ok || cur.Before(seen[key]) {
			t.pending[key] = seen[key]
		}
	}
}

// isPending reports whether a guest has activity not yet written (cleanup
// must not delete it on the strength of a stale lastSeen).
func (t *activityTracker) isPending(collectionId, id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.pending[activityKey{collectionId: collectionId, id: id}]
	return ok
}

// start runs the flusher (once, however many times serve is triggered).
func (t *activityTracker) start(p *Plugin) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return
	}
	t.started = true
	t.stop = make(chan struct{})
	t.done = make(chan struct{})

	go func() {
		defer close(t.done)
		ticker := time.NewTicker(t.interval)
		defer ticker.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-ticker.C:
			case <-t.wake:
				// Full: flush now, but at most once a second, so a flood of
				// distinct guests cannot turn this into a write per request.
				time.Sleep(time.Second)
			}
			if err := p.FlushActivity(); err != nil {
				p.app.Logger().Error("anonauth: failed to write guest activity", "error", err)
			}
		}
	}()
}

// halt stops the flusher and waits for it (a flush in progress completes).
func (t *activityTracker) halt() {
	t.mu.Lock()
	if !t.started {
		t.mu.Unlock()
		return
	}
	t.started = false
	stop, done := t.stop, t.done
	t.mu.Unlock()

	close(stop)
	<-done
}
