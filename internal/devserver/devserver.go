// Package devserver builds the pocketguest binary and runs it as a real
// process on 127.0.0.1: the shared harness of the suites that must see what a
// user sees (the browser tests in e2e/, the crash and load suites in
// reliability/, the load bench in bench/).
//
//	bin, err := devserver.Build(tmpDir)          // go build of the module root
//	p, err := devserver.Start(devserver.Options{
//		Binary: bin,
//		Dir:    workDir,                         // pb_data/../ (templates, pb_hooks, ...)
//		Args:   []string{"serve", "--http=" + addr, "--dir=" + dataDir},
//	})
//	err = p.WaitHealthy("http://"+addr, 30*time.Second)
//	defer p.Stop(5 * time.Second)                 // SIGINT, then SIGKILL
//
// It is internal: a test harness, not an API.
package devserver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot returns the directory of the repository's go.mod, found by
// walking up from the working directory (a test runs in its package's
// folder, `go run ./bench` in the root).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(raw, []byte("module github.com/pocketguest/pocketguest\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("devserver: the pocketguest go.mod was not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles the pocketguest binary into outDir and returns its path.
// extraArgs go to `go build` (e.g. "-overlay", file).
func Build(outDir string, extraArgs ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(outDir, "pocketguest")
	args := append(append([]string{"build"}, extraArgs...), "-o", bin, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// CopyDir copies the tree src into dst; a missing src copies nothing.
func CopyDir(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return os.CopyFS(dst, os.DirFS(src))
}

// Env is the current environment without POCKETGUEST_* variables, which
// would configure the server behind the harness's back.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POCKETGUEST_") {
			env = append(env, kv)
		}
	}
	return env
}

// Options describe one pocketguest process.
type Options struct {
	Binary string
	Dir    string   // working directory
	Args   []string // e.g. serve --http=... --dir=...
	Env    []string // nil: Env()
}

// Process is a running pocketguest.
type Process struct {
	Log  *Buffer // its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches the process without waiting for it to serve.
func Start(o Options) (*Process, error) {
	p := &Process{Log: &Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(o.Binary, o.Args...)
	p.cmd.Dir = o.Dir
	p.cmd.Env = o.Env
	if p.cmd.Env == nil {
		p.cmd.Env = Env()
	}
	p.cmd.Stdout = p.Log
	p.cmd.Stderr = p.Log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// ProcessState is the exit state, once Done is closed.
func (p *Process) ProcessState() *os.ProcessState { return p.cmd.ProcessState }

// WaitHealthy polls baseURL/api/health until it answers 200, the process
// exits, or timeout passes.
func (p *Process) WaitHealthy(baseURL string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("pocketguest exited during start-up")
		default:
		}
		res, err := client.Get(baseURL + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("pocketguest not healthy on %s after %s", baseURL, timeout)
}

// Stop asks the process to shut down (SIGINT: PocketBase's graceful
// shutdown, OnTerminate hooks) and kills it if it has not exited within
// grace. It reports whether it had to kill.
func (p *Process) Stop(grace time.Duration) (killed bool) {
	select {
	case <-p.done:
		return false
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return false
	case <-time.After(grace):
		p.Kill()
		return true
	}
}

// Kill sends SIGKILL (no shutdown hook, no flush: a crash) and waits until
// the process is gone.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Buffer is a bytes.Buffer safe for a process writing while a test reads.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n lines.
func (b *Buffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
