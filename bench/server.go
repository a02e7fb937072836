package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The bench drives the real pocketguest binary, built from the module root,
// as a child process: the numbers include everything a deployment pays
// (router, middlewares, JSON, the SQLite driver), and nothing of the bench
// itself runs inside the server.

const (
	benchSuperuserEmail    = "bench@example.com"
	benchSuperuserPassword = "bench-password-1234"
)

// binary is a built pocketguest executable and what it supports.
type binary struct {
	path  string
	flags map[string]bool // serve flags it knows (templatesDir may not exist yet)
}

// moduleRoot finds the directory of the go.mod that contains the bench, so
// the bench works from the repo root (`go run ./bench`) and from bench/
// (`go test`).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run the bench from the pocketguest repository")
	}
	return filepath.Dir(gomod), nil
}

// buildBinary compiles the module root (the pocketguest command) into dir,
// or takes a prebuilt one, and asks it which serve flags it has.
//
// With profile, the build gets bench/fixtures/pprof/pprof_main.go.txt added
// to package main through `go build -overlay` (the sources are untouched):
// a net/http/pprof listener on $BENCH_PPROF_ADDR (127.0.0.1 only).
func buildBinary(ctx context.Context, dir, prebuilt string, profile bool) (*binary, error) {
	path := prebuilt
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, "pocketguest")
		args := []string{"build", "-o", path}
		if profile {
			overlay, err := pprofOverlay(root, dir)
			if err != nil {
				return nil, err
			}
			args = append(args, "-overlay", overlay)
		}
		cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w\n%s", root, err, out)
		}
	}

	bin := &binary{path: path, flags: map[string]bool{}}

	help, _ := exec.CommandContext(ctx, path, "serve", "--help").CombinedOutput()
	for _, f := range []string{"templatesDir", "hooksDir", "anonRateLimit", "migrationsDir", "hooksWatch", "automigrate"} {
		bin.flags[f] = bytes.Contains(help, []byte("--"+f))
	}
	if !bin.flags["anonRateLimit"] {
		return nil, fmt.Errorf("%s has no --anonRateLimit flag: the bench needs it to switch rate limiting off", path)
	}

	return bin, nil
}

// pprofOverlay writes the go build -overlay file that adds the pprof
// listener to package main.
func pprofOverlay(root, dir string) (string, error) {
	data, err := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(root, "zz_bench_pprof.go"): filepath.Join(root, "bench", "fixtures", "pprof", "pprof_main.go.txt"),
	}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "pprof-overlay.json")
	return path, os.WriteFile(path, data, 0o644)
}

// server is one running pocketguest process.
type server struct {
	bin     *binary
	dataDir string
	addr    string // 127.0.0.1:port
	cmd     *exec.Cmd
	log     *os.File
	done    chan error

	stopOnce sync.Once
	stopErr  error
}

// serverDirs are the directories a server is started with.
type serverDirs struct {
	data, hooks, templates, migrations string
	pprofAddr                          string // BENCH_PPROF_ADDR for a -profile build ("" = none)
}

// startServer runs `pocketguest serve` on a free 127.0.0.1 port and waits
// until /api/health answers.
func startServer(ctx context.Context, bin *binary, dirs serverDirs) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)

	args := []string{
		"serve",
		"--http=" + addr,
		"--dir=" + dirs.data,
		"--anonRateLimit=0", // the bench measures sign-ins, not the limiter
		// PocketBase turns dev mode (every SQL statement logged) on for
		// binaries under the temp dir, where the bench builds this one.
		"--dev=false",
	}
	if bin.flags["hooksDir"] {
		args = append(args, "--hooksDir="+dirs.hooks)
	}
	if bin.flags["hooksWatch"] {
		args = append(args, "--hooksWatch=false")
	}
	if bin.flags["migrationsDir"] {
		args = append(args, "--migrationsDir="+dirs.migrations)
	}
	if bin.flags["automigrate"] {
		args = append(args, "--automigrate=false")
	}
	if bin.flags["templatesDir"] {
		args = append(args, "--templatesDir="+dirs.templates)
	}

	logFile, err := os.OpenFile(filepath.Join(dirs.data, "..", "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(bin.path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = benchEnv()
	if dirs.pprofAddr != "" {
		cmd.Env = append(cmd.Env, "BENCH_PPROF_ADDR="+dirs.pprofAddr)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}

	s := &server{bin: bin, dataDir: dirs.data, addr: addr, cmd: cmd, log: logFile, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()

	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n--- server log ---\n%s", err, tail(logFile.Name(), 30))
	}
	return s, nil
}

// benchEnv is the environment of the child processes: ours, minus any
// POCKETGUEST_* variable that could change the server's configuration
// behind the bench's back.
func benchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POCKETGUEST_") {
			env = append(env, kv)
		}
	}
	return env
}

// cpuTime is the CPU time (user + system) the server process has used so
// far (0 where there is no /proc). It tells the server's cost per sign-in
// apart from the load generator's on the same cores.
func (s *server) cpuTime() time.Duration {
	return processCPU(strconv.Itoa(s.cmd.Process.Pid))
}

func (s *server) url(path string) string {
	return "http://" + s.addr + path
}

func (s *server) waitHealthy(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("pocketguest exited before serving: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.url("/api/health"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pocketguest did not answer /api/health on %s within %s", s.addr, timeout)
}

// stop asks the server to shut down (SIGINT, as Ctrl-C: PocketBase closes
// its databases cleanly) and kills it if it does not within 15s. It may be
// called more than once.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		defer s.log.Close()
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("pocketguest did not stop within 15s and was killed")
		}
	})
	return s.stopErr
}

// run runs a one-off pocketguest command (superuser upsert, anonymous
// ...) against dataDir and returns its combined output.
func (b *binary) run(ctx context.Context, dataDir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.path, append(args, "--dir="+dataDir, "--dev=false")...)
	cmd.Env = benchEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pocketguest %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// copyDir copies the regular files of src into dst (a pb_data directory:
// the SQLite files, no subdirectories needed for the bench).
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if !entry.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, entry.Name()), filepath.Join(dst, entry.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
