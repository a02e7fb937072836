// Command bench is PocketGuest's load bench: it builds the pocketguest
// binary from this module, runs it on 127.0.0.1 with a fresh pb_data and
// anonymous rate limiting switched off, drives it with a bounded load
// (vegeta, N concurrent keep-alive clients at max rate for a fixed time) and
// prints one table with every sign-in path side by side:
//
//  1. POST /api/collections/users/auth-anonymously (the HTTP endpoint);
//  2. a template page whose <script server> calls signInAnonymously();
//  3. a pb_hooks route that calls signInAnonymously(e);
//  4. the stock PocketBase baseline: create a user with a random email and
//     password through the records API, then auth-with-password (two client
//     requests, timed as one sign-in);
//
// then the endpoint with replication (--replicate) off and on, the
// endpoint's throughput with 0, 100k and 1M existing guests, and
// the cleanup of 100k stale guests while sign-ins run.
//
// Usage (from the repository root):
//
//	go run ./bench                  # the full bench, ~3 minutes on 2 cores after the build
//	go run ./bench -quick           # a few seconds: proves the bench works
//	go run ./bench -duration 20s -concurrency 32 -rows 0,1000000
//
// Progress goes to stderr, the report to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pocketguest/pocketguest/internal/devserver"
)

// config are the bench's options (its flags).
type config struct {
	Duration    time.Duration // measured time per row
	Warmup      time.Duration // unmeasured load before each row
	Concurrency int           // concurrent clients (vegeta workers)
	Rows        []int         // existing guests for the cost-growth rows
	Cleanup     int           // stale guests for the cleanup row (0 skips it)
	CleanupMax  time.Duration // upper bound of the cleanup row (and of the empty row's deletion)
	EmptyGuests int           // guests for the empty-guests row, half of them owning a cart line (0 skips it)
	Bin         string        // prebuilt pocketguest binary (default: go build)
	Keep        bool          // keep the temp dir (pb_data, server logs)
	Profile     string        // write a server CPU profile per row into this dir
	PerCore     []int         // GOMAXPROCS values of the per-core endpoint rows
	ServeArgs   []string      // extra `pocketguest serve` flags (A/B runs, e.g. --dbStmtCache=0)
	Quick       bool
}

func defaultConfig() config {
	return config{
		Duration:    8 * time.Second,
		Warmup:      time.Second,
		Concurrency: 16,
		Rows:        []int{0, 100_000, 1_000_000},
		Cleanup:     100_000,
		CleanupMax:  150 * time.Second,
		EmptyGuests: 1_000_000,
		PerCore:     []int{1, 2},
	}
}

// quickConfig is -quick: every phase runs, briefly and on tiny tables.
func quickConfig() config {
	c := defaultConfig()
	c.Quick = true
	c.Duration = time.Second
	c.Warmup = 200 * time.Millisecond
	c.Rows = []int{0, 1_000}
	c.Cleanup = 1_000
	c.CleanupMax = 20 * time.Second
	c.EmptyGuests = 1_000
	return c
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	rep, err := run(ctx, cfg, os.Stderr)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a few-second run on tiny tables (what `go test ./bench` runs); other flags still override it")
	def := defaultConfig()
	duration := fs.Duration("duration", def.Duration, "measured load time of each row")
	warmup := fs.Duration("warmup", def.Warmup, "unmeasured load before each row (JIT of VM pools, SQLite page cache)")
	concurrency := fs.Int("concurrency", def.Concurrency, "concurrent clients (keep-alive connections at max rate)")
	serveArgs := fs.String("serve-args", "", "extra `pocketguest serve` flags, space separated, for A/B runs (e.g. \"--dbStmtCache=0\")")
	perCore := fs.String("percore", "1,2", "GOMAXPROCS values of the per-core endpoint rows, comma separated (empty skips them)")
	rows := fs.String("rows", "0,100000,1000000", "existing guests for the cost-growth rows, comma separated (empty skips them)")
	cleanup := fs.Int("cleanup", def.Cleanup, "stale guests for the cleanup row (0 skips it)")
	cleanupMax := fs.Duration("cleanup-max", def.CleanupMax, "upper bound of the cleanup row")
	empty := fs.Int("empty", def.EmptyGuests, "guests for the empty-guests row (--anonEmptyMaxAge), half of them owning a cart line (0 skips it)")
	bin := fs.String("bin", "", "use this pocketguest binary instead of building the module root")
	keep := fs.Bool("keep", false, "keep the temp dir (pb_data copies, server.log) and print its path")
	profile := fs.String("profile", "", "write a CPU profile of the server for each row into this directory (`go tool pprof -top DIR/<row>.pprof`); the server is then built with a pprof listener on 127.0.0.1")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: go run ./bench [flags]\n\nLoad bench of PocketGuest's sign-in paths against stock PocketBase (127.0.0.1 only, rate limit off).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}

	cfg := def
	if *quick {
		cfg = quickConfig()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["duration"] || !*quick {
		cfg.Duration = *duration
	}
	if set["warmup"] || !*quick {
		cfg.Warmup = *warmup
	}
	if set["rows"] || !*quick {
		parsed, err := parseRows(*rows)
		if err != nil {
			return config{}, err
		}
		cfg.Rows = parsed
	}
	if set["cleanup"] || !*quick {
		cfg.Cleanup = *cleanup
	}
	if set["cleanup-max"] || !*quick {
		cfg.CleanupMax = *cleanupMax
	}
	if set["empty"] || !*quick {
		cfg.EmptyGuests = *empty
	}
	procs, err := parseProcs(*perCore)
	if err != nil {
		return config{}, err
	}
	cfg.PerCore = procs
	cfg.ServeArgs = strings.Fields(*serveArgs)
	cfg.Concurrency = *concurrency
	cfg.Bin = *bin
	cfg.Keep = *keep
	cfg.Profile = *profile
	if cfg.Profile != "" {
		abs, err := filepath.Abs(cfg.Profile)
		if err != nil {
			return config{}, err
		}
		cfg.Profile = abs
	}

	if cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return config{}, fmt.Errorf("-concurrency must be ≥ 1 and -duration > 0")
	}
	return cfg, nil
}

func parseProcs(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-percore: %q is not a GOMAXPROCS value (≥ 1)", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseRows(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(strings.ReplaceAll(part, "_", ""))
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-rows: %q is not a count of guests", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// run is the whole bench. Progress lines go to progress; the caller prints
// the returned report (which is partial when err is not nil).
func run(ctx context.Context, cfg config, progress *os.File) (*report, error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "bench: "+format+"\n", args...)
	}
	started := time.Now()

	root, err := devserver.ModuleRoot()
	if err != nil {
		return nil, err
	}
	fixtures := filepath.Join(root, "bench", "fixtures")

	tmp, err := os.MkdirTemp("", "pocketguest-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.Keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	logf("building pocketguest from %s", root)
	if cfg.Profile != "" {
		if cfg.Bin != "" {
			return nil, fmt.Errorf("-profile needs the bench's own build: drop -bin")
		}
		if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
			return nil, err
		}
	}
	bin, err := buildBinary(ctx, tmp, cfg.Bin, cfg.Profile != "")
	if err != nil {
		return nil, err
	}

	rep := newReport(cfg, bin)
	bin.serveArgs = cfg.ServeArgs
	b := &bench{cfg: cfg, bin: bin, tmp: tmp, fixtures: fixtures, logf: logf, rep: rep}
	if cfg.Profile != "" {
		if b.pprofAddr, err = devserver.FreeAddr(); err != nil {
			return nil, err
		}
		logf("servers serve net/http/pprof on http://%s/debug/pprof/", b.pprofAddr)
	}

	steps := []func(context.Context) error{b.preparePristine, b.signInPaths, b.starterPage, b.replicationCost, b.perCore, b.costGrowth, b.cleanup, b.emptyCleanup}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := step(ctx); err != nil {
			return rep, err
		}
	}

	rep.total = time.Since(started)
	logf("done in %s", rep.total.Round(time.Second))
	return rep, nil
}

// bench holds what the phases share.
type bench struct {
	cfg       config
	bin       *binary
	tmp       string
	fixtures  string
	logf      func(string, ...any)
	rep       *report
	pristine  string // pb_data after the first serve: migrated, isAnonymous added
	pprofAddr string // the servers' pprof listener with -profile
}

// dirs returns fresh server directories under tmp/name, with pb_data copied
// from the pristine one.
func (b *bench) dirs(name string) (serverDirs, error) {
	d := serverDirs{
		pprofAddr:  b.pprofAddr,
		data:       filepath.Join(b.tmp, name, "pb_data"),
		hooks:      filepath.Join(b.fixtures, "pb_hooks"),
		templates:  filepath.Join(b.fixtures, "templates"),
		migrations: filepath.Join(b.tmp, "no_migrations"),
	}
	if err := os.MkdirAll(d.migrations, 0o755); err != nil {
		return d, err
	}
	if b.pristine == "" {
		return d, os.MkdirAll(d.data, 0o755)
	}
	return d, devserver.CopyDir(b.pristine, d.data) // the server is stopped: the SQLite files are consistent
}

// preparePristine creates the pb_data every phase starts from: migrations
// applied, a superuser (so serve skips its installer) and the isAnonymous
// field that anonauth adds on serve.
func (b *bench) preparePristine(ctx context.Context) error {
	b.logf("preparing a fresh pb_data")
	d, err := b.dirs("pristine")
	if err != nil {
		return err
	}
	if _, err := b.bin.run(ctx, d.data, "superuser", "upsert", benchSuperuserEmail, benchSuperuserPassword); err != nil {
		return err
	}
	s, err := startServer(ctx, b.bin, d)
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}
	b.pristine = d.data
	return nil
}

// removeRun deletes a finished phase's directory (a 1M-guest pb_data is
// a few hundred MB) unless -keep.
func (b *bench) removeRun(name string) {
	if !b.cfg.Keep {
		os.RemoveAll(filepath.Join(b.tmp, name))
	}
}

// profiler returns a load.onMeasure that, with -profile, records a CPU
// profile of the server over the measured attack into DIR/<file>.pprof.
func (b *bench) profiler(file string) func(time.Duration) func() {
	if b.cfg.Profile == "" {
		return nil
	}
	return func(d time.Duration) func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			secs := max(1, int(d.Round(time.Second)/time.Second))
			u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.pprofAddr, secs)
			client := &http.Client{Transport: newTransport(1), Timeout: d + 30*time.Second}
			resp, err := client.Get(u)
			if err != nil {
				b.logf("  profile %s: %v", file, err)
				return
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.logf("  profile %s: status %d %v", file, resp.StatusCode, err)
				return
			}
			path := filepath.Join(b.cfg.Profile, file+".pprof")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.logf("  profile %s: %v", file, err)
				return
			}
			b.logf("  wrote %s", path)
		}()
		return func() { <-done }
	}
}
