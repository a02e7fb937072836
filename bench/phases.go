package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Paths of the fixtures (bench/fixtures) and of the endpoint.
const (
	endpointPath = "/api/collections/users/auth-anonymously"
	pagePath     = "/signin"            // fixtures/templates/signin.ejs
	hookPath     = "/bench/hook-signin" // fixtures/pb_hooks/bench.pb.js
)

// signInPaths runs rows 1–4 one after the other against ONE server, so the
// machine's noise affects them alike.
func (b *bench) signInPaths(ctx context.Context) error {
	const name = "paths"
	d, err := b.dirs(name)
	if err != nil {
		return err
	}
	defer b.removeRun(name)

	s, err := startServer(ctx, b.bin, d)
	if err != nil {
		return err
	}
	defer s.stop()

	base := newTransport(b.cfg.Concurrency)
	rows := []struct {
		row   *pathRow
		load  load
		probe func() error // nil: always available
	}{
		{
			row:  &b.rep.paths[0],
			load: load{target: target(s, http.MethodPost, endpointPath), check: checkAuthJSON},
		},
		{
			row:   &b.rep.paths[1],
			load:  load{target: target(s, http.MethodGet, pagePath), check: checkPage},
			probe: func() error { return b.probeTemplates(s) },
		},
		{
			row:   &b.rep.paths[2],
			load:  load{target: target(s, http.MethodPost, hookPath), check: checkAuthJSON},
			probe: func() error { return probeHooks(s) },
		},
		{
			row:  &b.rep.paths[3],
			load: load{target: target(s, http.MethodPost, baselinePath), check: checkToken, transport: &baselineTransport{next: base}},
		},
	}

	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.probe != nil {
			if err := r.probe(); err != nil {
				r.row.unavailable = err.Error()
				b.logf("row %q: not available: %v", r.row.label, err)
				continue
			}
		}
		b.logf("row %q: %s warm-up + %s at %d clients", r.row.label, b.cfg.Warmup, b.cfg.Duration, b.cfg.Concurrency)
		l := r.load
		l.name, l.concurrency, l.warmup, l.duration = r.row.label, b.cfg.Concurrency, b.cfg.Warmup, b.cfg.Duration
		l.serverCPU, l.serverRSS = s.cpuTime, s.rss
		l.onMeasure = b.profiler(fmt.Sprintf("path%s", r.row.label[:1]))
		r.row.st = l.run()
		r.row.ran = true
		b.logf("  %s", r.row.st.summary())
	}
	return nil
}

// probeTemplates tells "the binary has no templates engine yet" apart from
// "the page fails": only the first makes the row "not available"; a page
// that errors is measured and its errors reported.
func (b *bench) probeTemplates(s *server) error {
	if !b.bin.flags["templatesDir"] {
		return fmt.Errorf("this pocketguest has no --templatesDir flag (templates engine not wired into main.go)")
	}
	code, body, err := probe(s, http.MethodGet, pagePath)
	if err != nil {
		return err
	}
	if code == http.StatusNotFound && !strings.Contains(body, "signInAnonymously") {
		return fmt.Errorf("GET %s answered 404: templates are not served", pagePath)
	}
	return nil
}

// probeHooks checks that the fixture routes were loaded and that the
// signInAnonymously global is defined in pb_hooks VMs.
func probeHooks(s *server) error {
	code, body, err := probe(s, http.MethodGet, "/bench/has-signin")
	if err != nil {
		return err
	}
	if code == http.StatusNotFound {
		return fmt.Errorf("GET /bench/has-signin answered 404: the fixture pb_hooks were not loaded")
	}
	if !strings.Contains(body, `"defined":true`) {
		return fmt.Errorf("the signInAnonymously global is not defined in pb_hooks VMs of this pocketguest")
	}
	return nil
}

func probe(s *server, method, path string) (int, string, error) {
	req, err := http.NewRequest(method, s.url(path), nil)
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{Transport: newTransport(1), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body), nil
}

// costGrowth measures the endpoint on a fresh server per table size.
func (b *bench) costGrowth(ctx context.Context) error {
	for i, n := range b.cfg.Rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := fmt.Sprintf("growth-%d", n)
		d, err := b.dirs(name)
		if err != nil {
			return err
		}

		row := &b.rep.growth[i]
		if n > 0 {
			b.logf("seeding %d guests", n)
			if row.seedTime, err = seedGuests(ctx, d.data, n, time.Now()); err != nil {
				return err
			}
			if got, err := countSeeded(ctx, d.data); err != nil || got != n {
				return fmt.Errorf("seeding %d guests left %d seeded rows (%v)", n, got, err)
			}
			b.logf("  seeded in %s", row.seedTime.Round(time.Millisecond))
		}

		s, err := startServer(ctx, b.bin, d)
		if err != nil {
			return err
		}
		b.logf("row %q: %s warm-up + %s at %d clients", row.label(), b.cfg.Warmup, b.cfg.Duration, b.cfg.Concurrency)
		row.st = load{
			name: row.label(), target: target(s, http.MethodPost, endpointPath), check: checkAuthJSON,
			concurrency: b.cfg.Concurrency, warmup: b.cfg.Warmup, duration: b.cfg.Duration,
			serverCPU: s.cpuTime, serverRSS: s.rss, onMeasure: b.profiler(fmt.Sprintf("growth-%d", n)),
		}.run()
		row.ran = true
		b.logf("  %s", row.st.summary())
		if err := s.stop(); err != nil {
			return err
		}
		b.removeRun(name)
	}
	return nil
}

func (s stats) summary() string {
	return fmt.Sprintf("%d ok, %d errors, %.0f/s, p50 %s, p99 %s, server CPU %s/sign-in, other processes %.2f cores", s.ok, s.errors, s.rate(), fmtDur(s.p50), fmtDur(s.p99), fmtCPU(s.cpuPerOK()), s.otherCores())
}

// perCore measures the endpoint on a fresh server per GOMAXPROCS value
// (issue 16: how it grows with cores, for sizing a bigger node). The load
// generator still shares every core.
func (b *bench) perCore(ctx context.Context) error {
	for i := range b.rep.perCore {
		if err := ctx.Err(); err != nil {
			return err
		}
		row := &b.rep.perCore[i]
		name := fmt.Sprintf("gomaxprocs-%d", row.procs)
		d, err := b.dirs(name)
		if err != nil {
			return err
		}
		d.gomaxprocs = row.procs
		s, err := startServer(ctx, b.bin, d)
		if err != nil {
			return err
		}
		b.logf("row %q: %s warm-up + %s at %d clients", name, b.cfg.Warmup, b.cfg.Duration, b.cfg.Concurrency)
		row.st = load{
			name: name, target: target(s, http.MethodPost, endpointPath), check: checkAuthJSON,
			concurrency: b.cfg.Concurrency, warmup: b.cfg.Warmup, duration: b.cfg.Duration,
			serverCPU: s.cpuTime, serverRSS: s.rss,
		}.run()
		row.ran = true
		b.logf("  %s", row.st.summary())
		if err := s.stop(); err != nil {
			return err
		}
		b.removeRun(name)
	}
	return nil
}
