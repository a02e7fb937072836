package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/internal/devserver"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "e2e-admin-password-1234"
)

// repoRoot is the module root (this package lives in <root>/e2e).
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
		if binDir, binErr = os.MkdirTemp("", "pocketguest-e2e-bin-"); binErr != nil {
			return
		}
		binPath, binErr = devserver.Build(binDir)
	})
	return binPath, binErr
}

// server is a running pocketguest binary with a private copy of the demo.
type server struct {
	URL   string
	dir   string
	proc  *devserver.Process
	log   *devserver.Buffer
	token string // superuser token for API assertions
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
	root, err := devserver.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pocketguest-e2e-")
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"pb_migrations", "templates", "pb_hooks"} {
		if err := devserver.CopyDir(filepath.Join(root, sub), filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	dataDir := filepath.Join(dir, "pb_data")

	up := exec.Command(bin, "superuser", "upsert", adminEmail, adminPassword, "--dir", dataDir)
	up.Dir = dir
	if out, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("superuser upsert: %v\n%s", err, out)
	}

	addr, err := devserver.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--http", addr, "--dir", dataDir, "--dev=false", "--automigrate=false"}, extraArgs...)
	proc, err := devserver.Start(devserver.Options{Binary: bin, Dir: dir, Args: args})
	if err != nil {
		return nil, err
	}
	s := &server{URL: "http://" + addr, dir: dir, proc: proc, log: proc.Log}

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
	return s.proc.WaitHealthy(s.URL, timeout)
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
			"(main.go must register pages.MustRegister with TemplatesDir)\n%.500s", res.StatusCode, body)
	}
	return nil
}

func (s *server) stop() {
	if s.proc != nil {
		s.proc.Stop(5 * time.Second)
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
