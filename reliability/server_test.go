package reliability

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/internal/devserver"

	_ "modernc.org/sqlite" // the driver PocketBase itself uses, to read pb_data directly
)

// The harness: build the binary once, start it on 127.0.0.1 with a private
// workspace (pb_data, pb_migrations, empty pb_hooks), talk HTTP to it, kill
// it with SIGKILL, open its database directly.

var binPath string

func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	if p := os.Getenv("POCKETGUEST_RELIABILITY_BIN"); p != "" {
		binPath = p
		return m.Run(), nil
	}
	dir, err := os.MkdirTemp("", "pocketguest-reliability-bin-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// --dev and --automigrate are passed explicitly to every command: a
	// binary in a temp dir looks like `go run` to PocketBase and would
	// default both to true.
	if binPath, err = devserver.Build(dir); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// workspace is the directory a server runs in: pb_data plus the folders
// PocketBase reads next to it.
type workspace struct {
	dir, data, migrations, hooks, templates string
}

// shopMigration is the schema the crash and load suites use: carts (single
// relation to users, cascade delete) and orders (relation emptied when the
// user is deleted), both writable by their owner through the records API.
const shopMigration = `/// <reference path="../pb_data/types.d.ts" />
migrate((app) => {
  const users = app.findCollectionByNameOrId("users")
  app.save(new Collection({
    type: "base",
    name: "carts",
    listRule: "owner = @request.auth.id",
    viewRule: "owner = @request.auth.id",
    createRule: "@request.auth.id != '' && owner = @request.auth.id",
    fields: [
      { type: "relation", name: "owner", collectionId: users.id, maxSelect: 1, required: true, cascadeDelete: true },
      { type: "text", name: "items" },
      { type: "autodate", name: "created", onCreate: true },
    ],
    indexes: ["CREATE INDEX idx_carts_owner ON carts (owner)"],
  }))
  app.save(new Collection({
    type: "base",
    name: "orders",
    listRule: "owner = @request.auth.id",
    createRule: "@request.auth.id != '' && owner = @request.auth.id",
    fields: [
      { type: "relation", name: "owner", collectionId: users.id, maxSelect: 1, cascadeDelete: false },
      { type: "number", name: "total" },
      { type: "autodate", name: "created", onCreate: true },
    ],
  }))
}, (app) => {
  app.delete(app.findCollectionByNameOrId("orders"))
  app.delete(app.findCollectionByNameOrId("carts"))
})
`

func newWorkspace(t testing.TB) *workspace {
	t.Helper()
	dir := t.TempDir()
	ws := &workspace{
		dir:        dir,
		data:       filepath.Join(dir, "pb_data"),
		migrations: filepath.Join(dir, "pb_migrations"),
		hooks:      filepath.Join(dir, "pb_hooks"),
		templates:  filepath.Join(dir, "templates"),
	}
	for _, d := range []string{ws.data, ws.migrations, ws.hooks} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ws.migrations, "1700000000_shop.js"), []byte(shopMigration), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws
}

// childEnv is our environment without POCKETGUEST_* variables, which would
// configure the server behind the test's back.
func childEnv() []string { return devserver.Env() }

// server is one running pocketguest process.
type server struct {
	t    testing.TB
	ws   *workspace
	addr string
	proc *devserver.Process
	log  *devserver.Buffer
	http *http.Client
}

// start launches `pocketguest serve` without waiting for it.
func start(t testing.TB, ws *workspace, extra ...string) *server {
	t.Helper()
	addr, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}

	args := append([]string{
		"serve",
		"--http=" + addr,
		"--dir=" + ws.data,
		"--dev=false",
		"--automigrate=false",
		"--hooksWatch=false",
		"--hooksDir=" + ws.hooks,
		"--migrationsDir=" + ws.migrations,
		"--templatesDir=" + ws.templates,
		"--anonRateLimit=0",
	}, extra...)
	proc, err := devserver.Start(devserver.Options{Binary: binPath, Dir: ws.dir, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{
		t:    t,
		ws:   ws,
		addr: addr,
		proc: proc,
		log:  proc.Log,
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConns:        256,
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     30 * time.Second,
			},
		},
	}
	t.Cleanup(func() { s.kill() })
	return s
}

// startHealthy starts a server and waits until /api/health answers.
func startHealthy(t testing.TB, ws *workspace, extra ...string) *server {
	t.Helper()
	s := start(t, ws, extra...)
	if err := s.waitHealthy(60 * time.Second); err != nil {
		s.kill()
		t.Fatalf("%v\n--- server log ---\n%s", err, s.log.Tail(40))
	}
	return s
}

func (s *server) waitHealthy(timeout time.Duration) error {
	return s.proc.WaitHealthy(s.url(""), timeout)
}

// kill sends SIGKILL (no shutdown hook, no final flush, no checkpoint) and
// waits for the process to be gone.
func (s *server) kill() {
	s.proc.Kill()
	s.http.CloseIdleConnections()
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// apiResult is one HTTP exchange.
type apiResult struct {
	status int
	body   []byte
	header http.Header
	err    error // transport error (connection refused/reset after a kill)
}

func (r apiResult) decode(v any) error { return json.Unmarshal(r.body, v) }

// call sends a JSON request. token, if set, goes in the Authorization header.
func (s *server) call(method, path, token string, body any) apiResult {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return apiResult{err: err}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.url(path), rd)
	if err != nil {
		return apiResult{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	return s.do(req)
}

func (s *server) do(req *http.Request) apiResult {
	res, err := s.http.Do(req)
	if err != nil {
		return apiResult{err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return apiResult{status: res.StatusCode, body: raw, header: res.Header, err: err}
}

// authResponse is PocketBase's {token, record}.
type authResponse struct {
	Token  string `json:"token"`
	Record struct {
		Id          string `json:"id"`
		Email       string `json:"email"`
		IsAnonymous bool   `json:"isAnonymous"`
	} `json:"record"`
}

// runCLI runs a one-off pocketguest command against the workspace's
// pb_data and returns its combined output.
func runCLI(ws *workspace, args ...string) ([]byte, error) {
	cmd := exec.Command(binPath, append(args, "--dir="+ws.data, "--dev=false", "--automigrate=false",
		"--hooksDir="+ws.hooks, "--migrationsDir="+ws.migrations, "--hooksWatch=false")...)
	cmd.Dir = ws.dir
	cmd.Env = childEnv()
	return cmd.CombinedOutput()
}

// hasCommand reports whether the binary has a top-level command.
func hasCommand(name string) bool {
	out, _ := exec.Command(binPath, "--help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(line, "  ") && f[0] == name {
			return true
		}
	}
	return false
}

// openDB opens pb_data/data.db with PocketBase's own driver and pragmas (a
// killed server leaves a WAL behind; opening it replays it, as PocketBase's
// next start would).
func openDB(t testing.TB, ws *workspace) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(ws.data, "data.db") +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// queryStrings runs a query returning one string column.
func queryStrings(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func envInt(name string, fallback int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return fallback
}
