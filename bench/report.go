package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report is everything one bench run measured.
type report struct {
	cfg     config
	bin     *binary
	started time.Time
	total   time.Duration

	paths       [4]pathRow
	starter     pathRow    // the PocketPages auth starter's login page
	replication [2]pathRow // endpoint without, then with --replicate
	growth      []growthRow
	perCore     []perCoreRow
	cleanup     cleanupRow
	empty       emptyRow
}

// perCoreRow is the endpoint on a server limited to procs cores.
type perCoreRow struct {
	procs int
	ran   bool
	st    stats
}

type pathRow struct {
	label       string
	unavailable string // why the row could not run ("" = it could)
	ran         bool
	st          stats
}

type growthRow struct {
	guests   int
	seedTime time.Duration
	ran      bool
	st       stats
}

func (g growthRow) label() string {
	return fmt.Sprintf("endpoint, %s existing guests", count(g.guests))
}

type cleanupRow struct {
	guests      int
	unavailable string
	ran         bool
	failed      string
	seedTime    time.Duration
	took        time.Duration
	deleted     int
	st          stats
}

func newReport(cfg config, bin *binary) *report {
	r := &report{cfg: cfg, bin: bin, started: time.Now()}
	r.paths = [4]pathRow{
		{label: "1 endpoint  POST " + endpointPath},
		{label: "2 template  GET " + pagePath + ", <script server> signInAnonymously()"},
		{label: "3 pb_hooks  POST " + hookPath + ", signInAnonymously(e)"},
		{label: "4 baseline  records create + auth-with-password (2 req)"},
	}
	r.starter = pathRow{label: "auth starter login page, anonymous  GET " + starterPagePath}
	r.replication = [2]pathRow{
		{label: "endpoint, replication off"},
		{label: "endpoint, --replicate=file://… (sync interval 1s)"},
	}
	for _, n := range cfg.Rows {
		r.growth = append(r.growth, growthRow{guests: n})
	}
	for _, n := range cfg.PerCore {
		r.perCore = append(r.perCore, perCoreRow{procs: n})
	}
	return r
}

// Targets of issue 7 (2 cores, 16 concurrent clients).
const (
	targetEndpointRate = 2000.0
	targetEndpointP99  = 50 * time.Millisecond
	targetVsBaseline   = 100.0
	targetTemplateRate = 1000.0
	targetHooksWithin  = 0.20
	targetGrowthWithin = 0.20

	targetReplicationWithin = 0.10 // issue 15: replication costs sign-ins at most 10%
)

// Targets of issue 16 (CPU/op: the server's CPU per sign-in, the steady
// column on a shared machine).
const (
	target16EndpointCPU = 330 * time.Microsecond
	target16Within      = 0.10 // template page and pb_hooks route vs the endpoint, in CPU/op
	target16P99         = 25 * time.Millisecond
	target16RSS         = 150 << 20
)

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "PocketGuest load bench — %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs (%s), %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Fprintf(w, "server:  the pocketguest binary on 127.0.0.1, fresh pb_data per phase, anonymous RATE LIMIT OFF (--anonRateLimit=0)\n")
	fmt.Fprintf(w, "load:    vegeta v12 library, %d concurrent keep-alive clients at max rate, %s measured per row after %s warm-up\n",
		r.cfg.Concurrency, r.cfg.Duration, r.cfg.Warmup)
	if len(r.cfg.ServeArgs) > 0 {
		fmt.Fprintf(w, "serve:   extra flags %s\n", strings.Join(r.cfg.ServeArgs, " "))
	}
	if r.cfg.Quick {
		fmt.Fprintf(w, "mode:    -quick (proves the bench works; the numbers are not the measurement)\n")
	}

	fmt.Fprintf(w, "\nSign-in paths (one server, one run; ratio = sign-ins/s vs row 4)\n")
	fmt.Fprintf(w, "%-60s %10s %8s %8s %14s %8s %9s %6s %10s %8s\n", "path", "sign-ins/s", "p50", "p99", "errors", "vs 4", "CPU/op", "other", "est.alone", "RSS")
	base := r.paths[3]
	for _, row := range r.paths {
		if !row.ran {
			fmt.Fprintf(w, "%-60s not available: %s\n", row.label, orSkipped(row.unavailable))
			continue
		}
		ratio := "-"
		if row.label != base.label && base.ran && base.st.rate() > 0 {
			ratio = fmt.Sprintf("%.0f×", row.st.rate()/base.st.rate())
		}
		fmt.Fprintf(w, "%-60s %10s %8s %8s %14s %8s %9s %6.2f %10s %8s\n", row.label, fmtRate(row.st.rate()), fmtDur(row.st.p50), fmtDur(row.st.p99), fmtErrors(row.st), ratio, fmtCPU(row.st.cpuPerOK()), row.st.otherCores(), fmtEst(row.st.aloneRate(runtime.NumCPU())), fmtMB(row.st.peakRSS))
	}
	fmt.Fprintf(w, "  CPU/op = the server process's CPU time (user+sys, /proc) per successful sign-in: immune to how the\n")
	fmt.Fprintf(w, "  load generator and other processes share the cores. other = cores kept busy by processes other than\n")
	fmt.Fprintf(w, "  the server and the bench during the row (a shared machine's noise; ~0 on a quiet one). est.alone = a\n")
	fmt.Fprintf(w, "  CEILING ESTIMATE, not a measurement: all %d cores / (server + bench CPU per sign-in), what the row would reach\n", runtime.NumCPU())
	fmt.Fprintf(w, "  with the machine to itself if it stays CPU-bound. RSS = the server's peak resident memory during the row.\n")
	fmt.Fprintf(w, "  row 4 is two client requests per sign-in (POST /api/collections/users/records with a random email and\n")
	fmt.Fprintf(w, "  password, then POST .../auth-with-password), timed together; both hash or check a bcrypt password.\n")

	fmt.Fprintf(w, "\nPocketPages starter (its own server, served where it stands; pages/s, not sign-ins)\n")
	if st := r.starter; st.ran {
		fmt.Fprintf(w, "%-60s %10s %8s %8s %14s %9s %6.2f\n", st.label, fmtRate(st.st.rate()), fmtDur(st.st.p50), fmtDur(st.st.p99), fmtErrors(st.st), fmtCPU(st.st.cpuPerOK()), st.st.otherCores())
	} else {
		fmt.Fprintf(w, "%-60s not available: %s\n", st.label, orSkipped(st.unavailable))
	}
	r.printReplication(w)

	if len(r.growth) > 0 {
		fmt.Fprintf(w, "\nCost growth: endpoint with existing guests (fresh server per row; seeded by SQL while stopped)\n")
		fmt.Fprintf(w, "%15s %10s %10s %8s %8s %14s %8s %9s %6s %10s %8s\n", "existing guests", "seeded in", "sign-ins/s", "p50", "p99", "errors", "vs empty", "CPU/op", "other", "est.alone", "RSS")
		var empty float64
		for _, g := range r.growth {
			if g.guests == 0 && g.ran {
				empty = g.st.rate()
			}
		}
		for _, g := range r.growth {
			if !g.ran {
				fmt.Fprintf(w, "%15s not run\n", count(g.guests))
				continue
			}
			vs := "-"
			if empty > 0 && g.guests != 0 {
				vs = fmt.Sprintf("%+.0f%%", (g.st.rate()/empty-1)*100)
			}
			seeded := "-"
			if g.guests > 0 {
				seeded = fmtDur(g.seedTime)
			}
			fmt.Fprintf(w, "%15s %10s %10s %8s %8s %14s %8s %9s %6.2f %10s %8s\n", count(g.guests), seeded, fmtRate(g.st.rate()), fmtDur(g.st.p50), fmtDur(g.st.p99), fmtErrors(g.st), vs, fmtCPU(g.st.cpuPerOK()), g.st.otherCores(), fmtEst(g.st.aloneRate(runtime.NumCPU())), fmtMB(g.st.peakRSS))
		}
	}

	if len(r.perCore) > 0 {
		fmt.Fprintf(w, "\nPer core: endpoint on a server limited to GOMAXPROCS cores (fresh server per row; the bench shares all %d)\n", runtime.NumCPU())
		fmt.Fprintf(w, "%10s %10s %14s %8s %8s %14s %9s %6s %8s\n", "GOMAXPROCS", "sign-ins/s", "per core", "p50", "p99", "errors", "CPU/op", "other", "RSS")
		for _, p := range r.perCore {
			if !p.ran {
				fmt.Fprintf(w, "%10d not run\n", p.procs)
				continue
			}
			fmt.Fprintf(w, "%10d %10s %14s %8s %8s %14s %9s %6.2f %8s\n", p.procs, fmtRate(p.st.rate()), fmtRate(p.st.rate()/float64(p.procs))+"/s", fmtDur(p.st.p50), fmtDur(p.st.p99), fmtErrors(p.st), fmtCPU(p.st.cpuPerOK()), p.st.otherCores(), fmtMB(p.st.peakRSS))
		}
		fmt.Fprintf(w, "  per core = sign-ins/s ÷ GOMAXPROCS, measured with the load generator on the same cores; 1 s of server CPU\n")
		fmt.Fprintf(w, "  ÷ CPU/op is the CPU-bound ceiling of one core.\n")
	}

	c := r.cleanup
	fmt.Fprintf(w, "\nCleanup of %s stale guests (last seen 90 days ago; the server's %s job, --anonMaxAge 720h) while sign-ins run\n", count(c.guests), cleanupJobId)
	switch {
	case !c.ran:
		fmt.Fprintf(w, "  not available: %s\n", orSkipped(c.unavailable))
	default:
		rate := 0.0
		if c.took > 0 {
			rate = float64(c.deleted) / c.took.Seconds()
		}
		if c.deleted == c.guests {
			fmt.Fprintf(w, "  cleanup:  %s of %s deleted in %s (%s guests/s, from POST /api/crons/%s to the last row gone)\n", count(c.deleted), count(c.guests), fmtDur(c.took), fmtRate(rate), cleanupJobId)
		} else {
			fmt.Fprintf(w, "  cleanup:  stopped at -cleanup-max: %s of %s deleted in %s (%s guests/s since POST /api/crons/%s)\n", count(c.deleted), count(c.guests), fmtDur(c.took), fmtRate(rate), cleanupJobId)
			if rate > 0 {
				fmt.Fprintf(w, "            at that rate all %s take ~%s (raise -cleanup-max to measure it)\n", count(c.guests), fmtDur(time.Duration(float64(c.guests)/rate*float64(time.Second))))
			}
		}
		fmt.Fprintf(w, "  sign-ins meanwhile: %s/s, p50 %s, p99 %s, errors %s, server CPU %s/sign-in (incl. the cleanup's share), other %.2f cores\n", fmtRate(c.st.rate()), fmtDur(c.st.p50), fmtDur(c.st.p99), fmtErrors(c.st), fmtCPU(c.st.cpuPerOK()), c.st.otherCores())
		if c.failed != "" {
			fmt.Fprintf(w, "  cleanup FAILED: %s\n", firstLine(c.failed))
		}
	}

	r.printEmpty(w)

	r.printTargets(w)
	r.printTargets16(w)

	if r.total > 0 {
		fmt.Fprintf(w, "\ntotal bench time: %s\n", r.total.Round(time.Second))
	}
	for _, row := range r.paths {
		if row.ran && row.st.firstError != "" {
			fmt.Fprintf(w, "first error of %q: %s\n", row.label, row.st.firstError)
		}
	}
}

func (r *report) printTargets(w io.Writer) {
	ep, page, hook, base := r.paths[0], r.paths[1], r.paths[2], r.paths[3]
	fmt.Fprintf(w, "\nTargets (issue 7, 2 cores, 16 clients)\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	if ep.ran {
		fmt.Fprintf(w, "  endpoint ≥ %.0f/s:            %-6s (%s/s)\n", targetEndpointRate, verdict(ep.st.rate() >= targetEndpointRate), fmtRate(ep.st.rate()))
		fmt.Fprintf(w, "  endpoint p99 ≤ %s:          %-6s (%s)\n", fmtDur(targetEndpointP99), verdict(ep.st.p99 <= targetEndpointP99), fmtDur(ep.st.p99))
		if base.ran && base.st.rate() > 0 {
			ratio := ep.st.rate() / base.st.rate()
			fmt.Fprintf(w, "  endpoint ≥ %.0f× baseline:     %-6s (%.0f×)\n", targetVsBaseline, verdict(ratio >= targetVsBaseline), ratio)
		}
	}
	if page.ran {
		fmt.Fprintf(w, "  template page ≥ %.0f/s:       %-6s (%s/s)\n", targetTemplateRate, verdict(page.st.rate() >= targetTemplateRate), fmtRate(page.st.rate()))
	} else {
		fmt.Fprintf(w, "  template page ≥ %.0f/s:       not available\n", targetTemplateRate)
	}
	if hook.ran && ep.ran && ep.st.rate() > 0 {
		d := hook.st.rate()/ep.st.rate() - 1
		fmt.Fprintf(w, "  hooks within %.0f%% of endpoint: %-6s (%+.0f%%)\n", targetHooksWithin*100, verdict(d >= -targetHooksWithin), d*100)
	} else {
		fmt.Fprintf(w, "  hooks within %.0f%% of endpoint: not available\n", targetHooksWithin*100)
	}
	var empty, big *growthRow
	for i := range r.growth {
		g := &r.growth[i]
		if !g.ran {
			continue
		}
		if g.guests == 0 {
			empty = g
		}
		if big == nil || g.guests > big.guests {
			big = g
		}
	}
	if empty != nil && big != nil && big.guests > 0 && empty.st.rate() > 0 {
		d := big.st.rate()/empty.st.rate() - 1
		cpu := ""
		if empty.st.cpuPerOK() > 0 && big.st.cpuPerOK() > 0 {
			cpu = fmt.Sprintf(", CPU/op %+.0f%%", (float64(big.st.cpuPerOK())/float64(empty.st.cpuPerOK())-1)*100)
		}
		fmt.Fprintf(w, "  %s guests within %.0f%% of empty: %-6s (%+.0f%%%s)\n", count(big.guests), targetGrowthWithin*100, verdict(d >= -targetGrowthWithin), d*100, cpu)
	}
	if hook.ran && ep.ran && ep.st.cpuPerOK() > 0 && hook.st.cpuPerOK() > 0 {
		fmt.Fprintf(w, "  (hooks vs endpoint in CPU/op: %+.0f%%; on a busy machine, CPU/op is the steadier comparison)\n",
			(float64(hook.st.cpuPerOK())/float64(ep.st.cpuPerOK())-1)*100)
	}
}

// printReplication prints the replication row pair and its target.
func (r *report) printReplication(w io.Writer) {
	off, on := r.replication[0], r.replication[1]
	fmt.Fprintf(w, "\nReplication cost (two servers from the same pristine pb_data, measured in turns: 4 slices each, ABBA order)\n")
	fmt.Fprintf(w, "%-60s %10s %8s %8s %14s %8s %9s %6s\n", "row", "sign-ins/s", "p50", "p99", "errors", "vs off", "CPU/op", "other")
	for _, row := range r.replication {
		if !row.ran {
			fmt.Fprintf(w, "%-60s not available: %s\n", row.label, orSkipped(row.unavailable))
			continue
		}
		vs := "-"
		if row.label != off.label && off.ran && off.st.rate() > 0 {
			vs = fmt.Sprintf("%+.0f%%", (row.st.rate()/off.st.rate()-1)*100)
		}
		fmt.Fprintf(w, "%-60s %10s %8s %8s %14s %8s %9s %6.2f\n", row.label, fmtRate(row.st.rate()), fmtDur(row.st.p50), fmtDur(row.st.p99), fmtErrors(row.st), vs, fmtCPU(row.st.cpuPerOK()), row.st.otherCores())
	}
	if off.ran && on.ran && off.st.rate() > 0 {
		d := on.st.rate()/off.st.rate() - 1
		cpu := ""
		if off.st.cpuPerOK() > 0 && on.st.cpuPerOK() > 0 {
			cpu = fmt.Sprintf(", server CPU/op %+.0f%%", (float64(on.st.cpuPerOK())/float64(off.st.cpuPerOK())-1)*100)
		}
		fmt.Fprintf(w, "  replication ≤ %.0f%% slower: %-6s (%+.0f%% sign-ins/s%s)\n", targetReplicationWithin*100, verdict(d >= -targetReplicationWithin), d*100, cpu)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// printTargets16 is issue 16's block: CPU per sign-in, the page and hooks
// paths within 10% of the endpoint in CPU/op, p99, server memory.
func (r *report) printTargets16(w io.Writer) {
	ep, page, hook := r.paths[0], r.paths[1], r.paths[2]
	fmt.Fprintf(w, "\nTargets (issue 16, CPU/op = server CPU per sign-in)\n")
	if !ep.ran || ep.st.cpuPerOK() <= 0 {
		fmt.Fprintf(w, "  not available: the endpoint row did not run or /proc is missing\n")
		return
	}
	epCPU := ep.st.cpuPerOK()
	line := func(label, verdict, detail string) {
		fmt.Fprintf(w, "  %-44s %-6s (%s)\n", label+":", verdict, detail)
	}
	line(fmt.Sprintf("endpoint CPU/op ≤ %s", fmtCPU(target16EndpointCPU)), verdict(epCPU <= target16EndpointCPU), fmtCPU(epCPU))
	line(fmt.Sprintf("endpoint p99 ≤ %s at %d clients", fmtDur(target16P99), r.cfg.Concurrency), verdict(ep.st.p99 <= target16P99), fmtDur(ep.st.p99))
	for _, p := range []struct {
		name string
		row  pathRow
	}{{"template page", page}, {"pb_hooks route", hook}} {
		label := fmt.Sprintf("%s CPU/op within %.0f%% of endpoint", p.name, target16Within*100)
		if !p.row.ran || p.row.st.cpuPerOK() <= 0 {
			line(label, "n/a", "row not run")
			continue
		}
		d := float64(p.row.st.cpuPerOK())/float64(epCPU) - 1
		line(label, verdict(d <= target16Within), fmt.Sprintf("%+.0f%%, %s", d*100, fmtCPU(p.row.st.cpuPerOK())))
	}
	var peak16 int64
	for _, row := range r.paths[:3] {
		if row.ran {
			peak16 = max(peak16, row.st.peakRSS)
		}
	}
	if peak16 > 0 {
		line(fmt.Sprintf("RSS ≤ %s in the %d-client rows 1-3", fmtMB(target16RSS), r.cfg.Concurrency), verdict(peak16 <= target16RSS), "peak "+fmtMB(peak16))
	}
	var big *growthRow
	for i := range r.growth {
		if g := &r.growth[i]; g.ran && (big == nil || g.guests > big.guests) {
			big = g
		}
	}
	if big != nil && big.guests > 0 && big.st.peakRSS > 0 {
		line(fmt.Sprintf("RSS ≤ %s with %s guests", fmtMB(target16RSS), count(big.guests)), verdict(big.st.peakRSS <= target16RSS), "peak "+fmtMB(big.st.peakRSS))
	}
	if len(r.perCore) == 2 && r.perCore[0].ran && r.perCore[1].ran && r.perCore[0].st.rate() > 0 {
		a, b := r.perCore[0], r.perCore[1]
		fmt.Fprintf(w, "  (cores: GOMAXPROCS=%d → %d gives %.2f× the sign-ins/s; CPU/op %s → %s)\n", a.procs, b.procs, b.st.rate()/a.st.rate(), fmtCPU(a.st.cpuPerOK()), fmtCPU(b.st.cpuPerOK()))
	}
	if other := ep.st.otherCores(); other > 0.3 {
		fmt.Fprintf(w, "  (other processes kept %.2f cores busy during row 1: CPU/op is inflated on a busy machine too — fixed\n", other)
		fmt.Fprintf(w, "   per-request overheads stop being amortised as throughput drops; compare runs taken side by side)\n")
	}
}

// fmtMB formats bytes as MB ("-" when unknown).
func fmtMB(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}

func orSkipped(s string) string {
	if s == "" {
		return "skipped"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func fmtErrors(s stats) string {
	return fmt.Sprintf("%d/%s", s.errors, count(s.ok+s.errors))
}

func fmtEst(r float64) string {
	if r <= 0 {
		return "-"
	}
	return "~" + fmtRate(r)
}

func fmtCPU(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

func fmtRate(r float64) string {
	if r >= 100 {
		return count(int(r + 0.5))
	}
	return fmt.Sprintf("%.1f", r)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

// count formats n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.IndexByte(line, ':'); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown CPU"
}

func (r *report) printEmpty(w io.Writer) {
	e := r.empty
	fmt.Fprintf(w, "\nEarly cleanup of empty guests: %s guests last seen %s ago, every second one owning a cart line (carts.owner, indexed by anonauth)\n", count(e.guests), fmtDur(emptyIdle))
	if !e.ran {
		fmt.Fprintf(w, "  not available: %s\n", orSkipped(e.unavailable))
		return
	}
	fmt.Fprintf(w, "  decide (CLI --dry-run, server stopped): %s empty of %s in %s; the same dry run without the owns-nothing check: %s\n",
		count(e.found), count(e.guests), fmtDur(e.decide), fmtDur(e.bare))
	c := e.watched
	empty := e.guests - e.owned
	rate := 0.0
	if c.took > 0 {
		rate = float64(c.deleted) / c.took.Seconds()
	}
	fmt.Fprintf(w, "  delete (the server's %s job): %s of %s empty guests in %s (%s guests/s, count included)\n", cleanupJobId, count(c.deleted), count(empty), fmtDur(c.took), fmtRate(rate))
	if c.deleted < empty && rate > 0 {
		fmt.Fprintf(w, "            stopped at -cleanup-max; at that rate all %s take ~%s\n", count(empty), fmtDur(time.Duration(float64(empty)/rate*float64(time.Second))))
	}
	fmt.Fprintf(w, "  sign-ins meanwhile: %s/s, p50 %s, p99 %s, errors %s, server CPU %s/sign-in, other %.2f cores\n", fmtRate(c.st.rate()), fmtDur(c.st.p50), fmtDur(c.st.p99), fmtErrors(c.st), fmtCPU(c.st.cpuPerOK()), c.st.otherCores())
	if c.failed != "" {
		fmt.Fprintf(w, "  empty cleanup FAILED: %s\n", firstLine(c.failed))
	}
}
