package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketguest/pocketguest/internal/devserver"
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
	// serveArgs are added to every `serve` (-serve-args).
	serveArgs []string
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
		var extra []string
		if profile {
			root, err := devserver.ModuleRoot()
			if err != nil {
				return nil, err
			}
			overlay, err := pprofOverlay(root, dir)
			if err != nil {
				return nil, err
			}
			extra = append(extra, "-overlay", overlay)
		}
		var err error
		if path, err = devserver.Build(dir, extra...); err != nil {
			return nil, err
		}
	}

	bin := &binary{path: path, flags: map[string]bool{}}

	help, _ := exec.CommandContext(ctx, path, "serve", "--help").CombinedOutput()
	for _, f := range []string{"templatesDir", "hooksDir", "anonRateLimit", "migrationsDir", "hooksWatch", "automigrate", "replicate", "anonEmptyMaxAge"} {
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
	proc    *devserver.Process
	logPath string // its log, written when it stops

	stopOnce sync.Once
	stopErr  error
}

// serverDirs are the directories a server is started with.
type serverDirs struct {
	data, hooks, templates, migrations string
	pprofAddr                          string   // BENCH_PPROF_ADDR for a -profile build ("" = none)
	extraArgs                          []string // more serve flags (e.g. --replicate)
	gomaxprocs                         int      // GOMAXPROCS of the server (0 = Go's default, all cores)
}

// startServer runs `pocketguest serve` on a free 127.0.0.1 port and waits
// until /api/health answers.
func startServer(ctx context.Context, bin *binary, dirs serverDirs) (*server, error) {
	addr, err := devserver.FreeAddr()
	if err != nil {
		return nil, err
	}

	args := []string{
		"serve",
		"--http=" + addr,
		"--dir=" + dirs.data,
		"--anonRateLimit=0", // the bench measures sign-ins, not the limiter
		// PocketBase turns dev mode (every SQL statement logged) on for
		// binaries under the temp dir, where the bench builds this one.
		"--dev=false",
	}
	// An empty directory is left to the binary's default (pb_data/../):
	// the starter row serves a project where it stands.
	if bin.flags["hooksDir"] && dirs.hooks != "" {
		args = append(args, "--hooksDir="+dirs.hooks)
	}
	if bin.flags["hooksWatch"] {
		args = append(args, "--hooksWatch=false")
	}
	if bin.flags["migrationsDir"] && dirs.migrations != "" {
		args = append(args, "--migrationsDir="+dirs.migrations)
	}
	if bin.flags["automigrate"] {
		args = append(args, "--automigrate=false")
	}
	if bin.flags["templatesDir"] && dirs.templates != "" {
		args = append(args, "--templatesDir="+dirs.templates)
	}

	args = append(args, bin.serveArgs...)
	args = append(args, dirs.extraArgs...)

	env := devserver.Env()
	if dirs.pprofAddr != "" {
		env = append(env, "BENCH_PPROF_ADDR="+dirs.pprofAddr)
	}
	if dirs.gomaxprocs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(dirs.gomaxprocs))
	}
	proc, err := devserver.Start(devserver.Options{Binary: bin.path, Dir: filepath.Dir(dirs.data), Args: args, Env: env})
	if err != nil {
		return nil, err
	}

	s := &server{bin: bin, dataDir: dirs.data, addr: addr, proc: proc,
		logPath: filepath.Join(dirs.data, "..", "server.log")}

	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n--- server log ---\n%s", err, proc.Log.Tail(30))
	}
	return s, nil
}

// cpuTime is the CPU time (user + system) the server process has used so
// far (0 where there is no /proc). It tells the server's cost per sign-in
// apart from the load generator's on the same cores.
func (s *server) cpuTime() time.Duration {
	return processCPU(strconv.Itoa(s.proc.Pid()))
}

// rss is the server process's resident memory now, in bytes.
func (s *server) rss() int64 {
	return processRSS(strconv.Itoa(s.proc.Pid()))
}

func (s *server) url(path string) string {
	return "http://" + s.addr + path
}

func (s *server) waitHealthy(ctx context.Context, timeout time.Duration) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < timeout {
		timeout = time.Until(deadline)
	}
	return s.proc.WaitHealthy("http://"+s.addr, timeout)
}

// stop asks the server to shut down (SIGINT, as Ctrl-C: PocketBase closes
// its databases cleanly) and kills it if it does not within 15s, then keeps
// its log next to pb_data. It may be called more than once.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		if s.proc.Stop(15 * time.Second) {
			s.stopErr = errors.New("pocketguest did not stop within 15s and was killed")
		}
		_ = os.WriteFile(s.logPath, []byte(s.proc.Log.String()), 0o644)
	})
	return s.stopErr
}

// run runs a one-off pocketguest command (superuser upsert, anonymous
// ...) against dataDir and returns its combined output.
func (b *binary) run(ctx context.Context, dataDir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.path, append(args, "--dir="+dataDir, "--dev=false")...)
	cmd.Env = devserver.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pocketguest %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}
