package replicate

import (
	"time"
)

// Replication states, worst last.
const (
	StateOff      = "off"      // no replica configured
	StateOK       = "ok"       // the replica answers and keeps up
	StateStarting = "starting" // nothing shipped yet
	StateDown     = "down"     // the last attempt to reach the replica failed; retrying
)

// Status is the replication state shown to superusers in GET /api/health
// (data.replication).
type Status struct {
	State        string     `json:"state"`
	Replica      string     `json:"replica,omitempty"` // the URL without its query
	SyncInterval string     `json:"syncInterval,omitempty"`
	Error        string     `json:"error,omitempty"` // a configuration error: replication is off until a restart
	Databases    []DBStatus `json:"databases,omitempty"`
}

// DBStatus is the replication state of one pb_data file.
type DBStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`

	// LocalTXID is the last transaction Litestream has read from the WAL,
	// ReplicaTXID the last one the replica confirmed.
	LocalTXID   uint64 `json:"localTxid"`
	ReplicaTXID uint64 `json:"replicaTxid"`

	// LagSeconds is 0 when the replica has every transaction read from the
	// WAL, else the time since the replica last confirmed a sync: roughly
	// what a lost disk would cost right now.
	LagSeconds float64 `json:"lagSeconds"`

	LastSyncAt     time.Time `json:"lastSyncAt,omitzero"`
	LastError      string    `json:"lastError,omitempty"`
	LastErrorAt    time.Time `json:"lastErrorAt,omitzero"`
	FailedAttempts int       `json:"failedAttempts,omitempty"` // consecutive failed calls to the replica
}

// Status reports the current replication state.
func (p *Plugin) Status() Status {
	if p.config.URL == "" {
		return Status{State: StateOff}
	}
	st := Status{State: StateStarting, SyncInterval: p.config.SyncInterval.String()}
	if ru, err := parseReplicaURL(p.config.URL); err == nil {
		st.Replica = ru.String()
	}

	p.mu.Lock()
	r := p.runner
	p.mu.Unlock()
	if r == nil {
		return st // not serving (yet)
	}
	r.mu.Lock()
	open, setupErr := r.open, r.setupErr
	r.mu.Unlock()
	if setupErr != nil {
		st.State, st.Error = StateDown, setupErr.Error()
		return st
	}

	st.State = StateOK
	for _, name := range r.names {
		ds := r.dbStatus(name, open)
		if rank(ds.State) > rank(st.State) {
			st.State = ds.State
		}
		st.Databases = append(st.Databases, ds)
	}
	return st
}

func (r *runner) dbStatus(name string, open bool) DBStatus {
	rdb := r.dbs[name]
	okAt, errAt, lastErr, streak := rdb.client.snapshot()
	ds := DBStatus{Name: name, State: StateOK, FailedAttempts: streak}
	if streak > 0 {
		ds.LastError, ds.LastErrorAt = lastErr, errAt
	}
	if open {
		if pos, err := rdb.db.Pos(); err == nil {
			ds.LocalTXID = uint64(pos.TXID)
		}
		ds.ReplicaTXID = uint64(rdb.db.Replica.Pos().TXID)
		ds.LastSyncAt = rdb.db.LastSuccessfulSyncAt()
	}
	if ds.ReplicaTXID < ds.LocalTXID {
		since := ds.LastSyncAt
		if since.IsZero() {
			since = okAt
		}
		if !since.IsZero() {
			ds.LagSeconds = time.Since(since).Seconds()
		}
	}
	switch {
	case streak > 0:
		ds.State = StateDown
	case !open || okAt.IsZero():
		ds.State = StateStarting
	}
	return ds
}

func rank(state string) int {
	switch state {
	case StateOK:
		return 0
	case StateStarting:
		return 1
	default:
		return 2
	}
}
