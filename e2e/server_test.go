package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "e2e-admin-password-1234"
)

// repoRoot is the module root (this package lives in <root>/e2e).
func repoRoot() string {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return root
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// pocketguestBinary builds the binary once per test run (or takes
// POCKETGUEST_E2E_BIN).
func pocketguestBinary() (string, error) {
	binOnce.Do(func() {
		if p := os.Getenv("POCKETGUEST_E2E_BIN"); p != "" {
			binPath = p
			return
		}
		binDir, binErr = os.MkdirTemp("", "pocketguest-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "pocketguest")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	return binPath, binErr
}

// server is a running pocketguest binary with a private copy of the demo.
type server struct {
	URL   string
	dir   string
	cmd   *exec.Cmd
	log   *syncBuffer
	done  chan struct{}
	token string // superuser token for API assertions
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer copies pb_migrations/, templates/ and pb_hooks/ into a temp
// directory (so pb_data/../templates is the demo, as with `go run . serve`),
// creates a superuser with the binary's own `superuser upsert` command and
// serves on a free 127.0.0.1 port.
func startServer(extraArgs ...string) (*server, error) {
	bin, err := pocketguestBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pocketguest-e2e-")
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"pb_migrations", "templates", "pb_hooks"} {
		if err := copyDir(filepath.Join(repoRoot(), sub), filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	dataDir := filepath.Join(dir, "pb_data")

	up := exec.Command(bin, "superuser", "upsert", adminEmail, adminPassword, "--dir", dataDir)
	up.Dir = dir
	if out, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("superuser upsert: %v\n%s", err, out)
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{URL: "http://" + addr, dir: dir, log: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"serve", "--http", addr, "--dir", dataDir, "--dev=false", "--automigrate=false"}, extraArgs...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()

	if err := s.waitHealthy(30 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, s.log.String())
	}

	if err := s.checkServesDemo(); err != nil {
		s.stop()
		return nil, err
	}

	var auth struct {
		Token string `json:"token"`
	}
	status, err := s.api(http.MethodPost, "/api/collections/_superusers/auth-with-password", map[string]string{
		"identity": adminEmail, "password": adminPassword,
	}, &auth)
	if err != nil || status != http.StatusOK {
		s.stop()
		return nil, fmt.Errorf("superuser sign-in: status %d, %v", status, err)
	}
	s.token = auth.Token
	return s, nil
}

func (s *server) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("pocketguest exited during start-up")
		default:
		}
		res, err := http.Get(s.URL + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pocketguest not healthy after %s", timeout)
}

// checkServesDemo fails early, with a clear message, when the binary does
// not serve templates/ at all (rather than every test failing on a 404).
func (s *server) checkServesDemo() error {
	res, err := http.Get(s.URL + "/")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Pocket Goods")) {
		return fmt.Errorf("GET / answered %d without the demo shop: this pocketguest binary does not serve templates/ "+
			"(main.go must register jsvm.MustRegister with TemplatesDir)\n%.500s", res.StatusCode, body)
	}
	return nil
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// api calls the REST API as the superuser and decodes the JSON answer into
// out (if not nil).
func (s *server) api(method, path string, body any, out any) (int, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", s.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("decoding %s: %w", raw, err)
		}
	}
	return res.StatusCode, nil
}

// record is the part of a record the tests look at.
type record struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	IsAnonymous bool   `json:"isAnonymous"`
	User        string `json:"user"`
	Quantity    int    `json:"quantity"`
	Product     string `json:"product"`
	Total       int    `json:"total"`
	Number      string `json:"number"`
}

type list struct {
	Items      []record `json:"items"`
	TotalItems int      `json:"totalItems"`
}

func (s *server) mustRecord(t testing.TB, collection, id string) (record, bool) {
	t.Helper()
	var r record
	status, err := s.api(http.MethodGet, "/api/collections/"+collection+"/records/"+id, nil, &r)
	if err != nil {
		t.Fatalf("GET %s/%s: %v", collection, id, err)
	}
	if status == http.StatusNotFound {
		return record{}, false
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s/%s: status %d", collection, id, status)
	}
	return r, true
}

func (s *server) mustList(t testing.TB, collection, filter string) list {
	t.Helper()
	var l list
	path := "/api/collections/" + collection + "/records?perPage=200&filter=" + url.QueryEscape(filter)
	status, err := s.api(http.MethodGet, path, nil, &l)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", path, status, err)
	}
	return l
}

func (s *server) mustProductID(t testing.TB, slug string) string {
	t.Helper()
	l := s.mustList(t, "products", "slug='"+slug+"'")
	if len(l.Items) != 1 {
		t.Fatalf("product %q: %d records", slug, len(l.Items))
	}
	return l.Items[0].ID
}

// mustCreateUser creates a full (non-anonymous) account with a password.
func (s *server) mustCreateUser(t testing.TB, email, password string) string {
	t.Helper()
	var r record
	status, err := s.api(http.MethodPost, "/api/collections/users/records", map[string]any{
		"email": email, "password": password, "passwordConfirm": password, "name": "Existing Customer",
	}, &r)
	if err != nil || status != http.StatusOK {
		t.Fatalf("create user %s: status %d, %v", email, status, err)
	}
	return r.ID
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func copyDir(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return os.CopyFS(dst, os.DirFS(src))
}
