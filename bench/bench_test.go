package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestQuickBench runs `go run ./bench -quick` in process and checks that the
// bench itself works: every phase ran, each row that ran has successes and
// no errors, the seeding put the guests in. It asserts nothing about speed
// (CI machines vary); the figures are printed with -v.
//
// It builds and starts the real pocketguest binary, so it is skipped with
// -short.
func TestQuickBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and serves the pocketguest binary")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	cfg := quickConfig()
	rep, err := run(ctx, cfg, os.Stderr)
	if rep != nil {
		var out bytes.Buffer
		rep.print(&out)
		t.Log("\n" + out.String())
	}
	if err != nil {
		t.Fatal(err)
	}

	for _, row := range rep.paths {
		if !row.ran {
			t.Errorf("row %q did not run: %s", row.label, row.unavailable)
			continue
		}
		checkRow(t, row.label, row.st)
	}

	if rep.starter.ran {
		checkRow(t, rep.starter.label, rep.starter.st)
	} else {
		t.Logf("starter row not available: %s", rep.starter.unavailable)
	}

	for _, row := range rep.replication {
		if !row.ran {
			t.Errorf("row %q did not run: %s", row.label, row.unavailable)
			continue
		}
		checkRow(t, row.label, row.st)
	}

	if len(rep.growth) != len(cfg.Rows) {
		t.Fatalf("%d growth rows, want %d", len(rep.growth), len(cfg.Rows))
	}
	for _, g := range rep.growth {
		if !g.ran {
			t.Errorf("growth row %s did not run", g.label())
			continue
		}
		checkRow(t, g.label(), g.st)
	}

	if len(rep.perCore) != len(cfg.PerCore) {
		t.Fatalf("%d per-core rows, want %d", len(rep.perCore), len(cfg.PerCore))
	}
	for _, p := range rep.perCore {
		if !p.ran {
			t.Errorf("per-core row GOMAXPROCS=%d did not run", p.procs)
			continue
		}
		checkRow(t, fmt.Sprintf("GOMAXPROCS=%d", p.procs), p.st)
	}
	if rep.paths[0].st.peakRSS <= 0 && runtime.GOOS == "linux" {
		t.Error("row 1 has no peak RSS on Linux")
	}

	c := rep.cleanup
	if c.ran {
		checkRow(t, "signins during cleanup", c.st)
		if c.failed != "" {
			t.Errorf("cleanup failed: %s", c.failed)
		}
		if c.deleted != c.guests {
			t.Errorf("cleanup deleted %d of %d stale guests", c.deleted, c.guests)
		}
	} else {
		t.Logf("cleanup row not available: %s", c.unavailable)
	}
}

func checkRow(t *testing.T, label string, st stats) {
	t.Helper()
	if st.ok == 0 {
		t.Errorf("row %q: no successful sign-in", label)
	}
	if st.errors != 0 {
		t.Errorf("row %q: %d errors, first: %s", label, st.errors, st.firstError)
	}
}

// TestParseFlags checks the documented flags and -quick's defaults.
func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-quick", "-concurrency", "4"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Quick || cfg.Concurrency != 4 || cfg.Duration != time.Second || len(cfg.Rows) != 2 {
		t.Errorf("-quick -concurrency 4 gave %+v", cfg)
	}

	cfg, err = parseFlags([]string{"-rows", "0, 100_000,1000000", "-duration", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Rows; len(got) != 3 || got[1] != 100_000 || got[2] != 1_000_000 || cfg.Duration != 3*time.Second {
		t.Errorf("-rows/-duration gave %+v", cfg)
	}

	if _, err := parseFlags([]string{"-rows", "lots"}); err == nil {
		t.Error("-rows lots: want an error")
	}

	cfg, err = parseFlags([]string{"-percore", "1, 4", "-serve-args", "--dbStmtCache=0  --hooksPool=32"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg.PerCore) != "[1 4]" || fmt.Sprint(cfg.ServeArgs) != "[--dbStmtCache=0 --hooksPool=32]" {
		t.Errorf("-percore/-serve-args gave %v %v", cfg.PerCore, cfg.ServeArgs)
	}
	if cfg, _ := parseFlags([]string{"-percore", ""}); len(cfg.PerCore) != 0 {
		t.Errorf("-percore \"\" gave %v, want none", cfg.PerCore)
	}
	for _, bad := range []string{"0", "two"} {
		if _, err := parseFlags([]string{"-percore", bad}); err == nil {
			t.Errorf("-percore %s: want an error", bad)
		}
	}
}
