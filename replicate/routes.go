package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// syncWaitLimit bounds POST /api/replication/sync.
const syncWaitLimit = 30 * time.Second

func (p *Plugin) bindRoutes(e *core.ServeEvent) {
	// PocketBase's own health handler is kept; superusers' answers get
	// data.replication added. A middleware, since a route cannot be bound
	// twice; it runs after the auth token is loaded.
	e.Router.Bind(&hook.Handler[*core.RequestEvent]{
		Id:       "pocketguestReplicationHealth",
		Priority: apis.DefaultLoadAuthTokenMiddlewarePriority + 10,
		Func:     p.healthMiddleware,
	})

	// Waits until every transaction committed before the call is on the
	// replica: before a planned move, in deploy scripts, in tests.
	e.Router.POST("/api/replication/sync", p.syncHandler).Bind(apis.RequireSuperuserAuth())
}

func (p *Plugin) healthMiddleware(e *core.RequestEvent) error {
	if e.Request.Method != http.MethodGet || e.Request.URL.Path != "/api/health" || !e.HasSuperuserAuth() {
		return e.Next()
	}
	orig := e.Response
	buf := &bufferedResponse{header: orig.Header()}
	e.Response = buf
	err := e.Next()
	e.Response = orig
	if err != nil {
		return err // rendered by PocketBase's error handler into orig
	}

	body := buf.body.Bytes()
	var resp map[string]any
	if json.Unmarshal(body, &resp) == nil {
		if data, ok := resp["data"].(map[string]any); ok {
			data["replication"] = p.Status()
			if raw, err := json.Marshal(resp); err == nil {
				body = raw
			}
		}
	}
	orig.Header().Del("Content-Length")
	if buf.status != 0 {
		orig.WriteHeader(buf.status)
	}
	_, err = orig.Write(body)
	return err
}

// bufferedResponse holds a handler's response so that it can be amended.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// syncResponse is the answer of POST /api/replication/sync.
type syncResponse struct {
	Databases map[string]uint64 `json:"databases"` // replicated transaction id per file
}

func (p *Plugin) syncHandler(e *core.RequestEvent) error {
	p.mu.Lock()
	r := p.runner
	p.mu.Unlock()
	if r == nil || !r.isOpen() {
		st := p.Status()
		msg := "Replication is not running (state " + st.State + ")."
		if st.Error != "" {
			msg += " " + st.Error
		}
		return router.NewApiError(http.StatusServiceUnavailable, msg, nil)
	}
	// Down: fail fast instead of queueing behind Litestream's retries.
	for _, name := range r.names {
		if msg, _ := r.dbs[name].client.lastError(); msg != "" {
			return router.NewApiError(http.StatusServiceUnavailable, "The replica of "+name+" is down: "+msg, nil)
		}
	}
	ctx, cancel := context.WithTimeout(e.Request.Context(), syncWaitLimit)
	defer cancel()
	out := syncResponse{Databases: map[string]uint64{}}
	for _, name := range r.names {
		txid, err := r.waitSynced(ctx, name)
		if err != nil {
			return router.NewApiError(http.StatusServiceUnavailable, "The replica did not confirm "+name+": "+err.Error(), nil)
		}
		out.Databases[name] = txid
	}
	return e.JSON(http.StatusOK, out)
}
