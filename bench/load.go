package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The load generator is vegeta's library (github.com/tsenart/vegeta): a
// closed-loop "max rate" attack with a fixed number of workers, each with its
// own keep-alive connection, stopped after a fixed duration. That is the
// wrk-style model the targets are stated in: N concurrent clients sending
// as fast as the server answers.

// load is one bounded attack.
type load struct {
	name        string
	target      vegeta.Target
	concurrency int
	warmup      time.Duration // run first, results thrown away
	duration    time.Duration
	transport   http.RoundTripper // nil: a plain keep-alive transport to 127.0.0.1
	check       func(*vegeta.Result) error
	stop        <-chan struct{}            // optional: end the attack early when closed
	serverCPU   func() time.Duration       // optional: the server's CPU time so far
	serverRSS   func() int64               // optional: the server's resident memory now (bytes)
	onMeasure   func(time.Duration) func() // optional: called as the measured attack starts; returns a wait
}

// stats is what one attack measured.
type stats struct {
	ok, errors int
	elapsed    time.Duration
	p50, p99   time.Duration
	firstError string
	serverCPU  time.Duration   // CPU the server used during the attack (0: unknown)
	benchCPU   time.Duration   // CPU the bench (load generator) used
	otherCPU   time.Duration   // CPU every other process of the machine used
	peakRSS    int64           // the server's largest resident memory seen during the attack (0: unknown)
	latencies  []time.Duration // sorted; kept so that slices of one row can be merged
}

// merge adds another slice of the same row (see replicationCost).
func (s stats) merge(o stats) stats {
	s.ok += o.ok
	s.errors += o.errors
	s.elapsed += o.elapsed
	s.serverCPU += o.serverCPU
	s.benchCPU += o.benchCPU
	s.otherCPU += o.otherCPU
	s.peakRSS = max(s.peakRSS, o.peakRSS)
	if s.firstError == "" {
		s.firstError = o.firstError
	}
	s.latencies = append(slices.Clone(s.latencies), o.latencies...)
	slices.Sort(s.latencies)
	s.p50 = percentile(s.latencies, 0.50)
	s.p99 = percentile(s.latencies, 0.99)
	return s
}

// aloneRate estimates sign-ins/s had the server and the bench had the
// machine to themselves: all cores divided by the CPU both spent per
// sign-in. It assumes the row is CPU-bound (true for rows 1-3, whose
// writes are short); it is an estimate, printed as one.
func (s stats) aloneRate(cores int) float64 {
	per := s.serverCPU + s.benchCPU
	if s.ok == 0 || per <= 0 || s.serverCPU <= 0 {
		return 0
	}
	return float64(cores) * float64(s.ok) / per.Seconds()
}

// otherCores is the average number of cores other processes kept busy
// during the attack: the noise the row was measured in.
func (s stats) otherCores() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return s.otherCPU.Seconds() / s.elapsed.Seconds()
}

// cpuPerOK is the server's CPU time per successful sign-in.
func (s stats) cpuPerOK() time.Duration {
	if s.ok == 0 || s.serverCPU <= 0 {
		return 0
	}
	return s.serverCPU / time.Duration(s.ok)
}

// rate is successful sign-ins per second.
func (s stats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

// newTransport is an HTTP/1.1 keep-alive transport that can only reach
// 127.0.0.1 (no proxy, no DNS): the bench cannot be pointed at anything else.
func newTransport(concurrency int) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil || host != "127.0.0.1" {
				return nil, fmt.Errorf("bench: refusing to connect to %q: only 127.0.0.1 is allowed", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: concurrency * 2,
		DisableCompression:  true,
	}
}

// run performs the warm-up and the measured attack.
func (l load) run() stats {
	transport := l.transport
	if transport == nil {
		transport = newTransport(l.concurrency)
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   30 * time.Second,
		// Pages may redirect after a sign-in; the bench measures the
		// sign-in response itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	if l.warmup > 0 {
		l.attack(client, l.warmup, "warmup")
	}
	wait := func() {}
	if l.onMeasure != nil {
		wait = l.onMeasure(l.duration)
	}
	stopRSS := l.sampleRSS()
	before := takeSnapshot(l.serverCPU)
	st := l.attack(client, l.duration, l.name)
	after := takeSnapshot(l.serverCPU)
	st.peakRSS = stopRSS()
	if l.serverCPU != nil {
		st.serverCPU = after.server - before.server
	}
	st.benchCPU = after.self - before.self
	if after.machine > 0 {
		st.otherCPU = max(0, (after.machine-before.machine)-st.serverCPU-st.benchCPU)
	}
	wait()
	return st
}

// sampleRSS samples the server's resident memory every 100ms until the
// returned function is called, which returns the peak.
func (l load) sampleRSS() func() int64 {
	if l.serverRSS == nil {
		return func() int64 { return 0 }
	}
	stop, peak := make(chan struct{}), make(chan int64)
	go func() {
		var p int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			p = max(p, l.serverRSS())
			select {
			case <-stop:
				peak <- max(p, l.serverRSS())
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-peak }
}

func (l load) attack(client *http.Client, d time.Duration, name string) stats {
	n := uint64(l.concurrency)
	attacker := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(n),
		vegeta.MaxWorkers(n),
		vegeta.MaxBody(64<<10),
	)

	if l.stop != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-l.stop:
				attacker.Stop()
			case <-done:
			}
		}()
	}

	// Rate 0 with bounded workers: every worker sends its next request as
	// soon as the previous one is answered.
	var (
		st        stats
		latencies []time.Duration
		start     time.Time
		end       time.Time
	)
	for res := range attacker.Attack(vegeta.NewStaticTargeter(l.target), vegeta.Rate{Freq: 0}, d, name) {
		if start.IsZero() || res.Timestamp.Before(start) {
			start = res.Timestamp
		}
		if e := res.End(); e.After(end) {
			end = e
		}
		latencies = append(latencies, res.Latency)

		err := resultError(res)
		if err == nil && l.check != nil {
			err = l.check(res)
		}
		if err != nil {
			st.errors++
			if st.firstError == "" {
				st.firstError = err.Error()
			}
			continue
		}
		st.ok++
	}

	st.elapsed = end.Sub(start)
	slices.Sort(latencies)
	st.p50 = percentile(latencies, 0.50)
	st.p99 = percentile(latencies, 0.99)
	st.latencies = latencies
	return st
}

// resultError is vegeta's own verdict: a transport error or a non-2xx/3xx
// status, with the start of the body to say why.
func resultError(res *vegeta.Result) error {
	if res.Error == "" {
		return nil
	}
	body := strings.TrimSpace(string(res.Body))
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	if body != "" {
		return fmt.Errorf("%s: %s", res.Error, body)
	}
	return fmt.Errorf("%s", res.Error)
}

// percentile is the nearest-rank percentile of sorted latencies (exact, not
// estimated: a bench run keeps at most a few hundred thousand of them).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// Checks: a 200 alone does not prove a sign-in happened.

// checkAuthJSON accepts a {token, record} response that set the pb_auth
// cookie.
func checkAuthJSON(res *vegeta.Result) error {
	if !bytes.Contains(res.Body, []byte(`"token":"`)) || !bytes.Contains(res.Body, []byte(`"record":{`)) {
		return fmt.Errorf("status %d without {token, record}: %.200s", res.Code, res.Body)
	}
	return checkCookie(res)
}

// checkPage accepts the fixture page with a guest id rendered into it.
func checkPage(res *vegeta.Result) error {
	if !bytes.Contains(res.Body, []byte(`<span id="guest">`)) || bytes.Contains(res.Body, []byte(`<span id="guest"></span>`)) {
		return fmt.Errorf("status %d without a guest id in the page: %.200s", res.Code, res.Body)
	}
	return checkCookie(res)
}

func checkCookie(res *vegeta.Result) error {
	for _, c := range res.Headers.Values("Set-Cookie") {
		if strings.HasPrefix(c, "pb_auth=") && !strings.HasPrefix(c, "pb_auth=;") {
			return nil
		}
	}
	return fmt.Errorf("status %d without a pb_auth cookie", res.Code)
}

// checkToken accepts any response with an auth token (the baseline's
// auth-with-password answer).
func checkToken(res *vegeta.Result) error {
	if !bytes.Contains(res.Body, []byte(`"token":"`)) {
		return fmt.Errorf("status %d without a token: %.200s", res.Code, res.Body)
	}
	return nil
}

// target builds a vegeta target for a path on the server.
func target(s *server, method, path string) vegeta.Target {
	u := url.URL{Scheme: "http", Host: s.addr, Path: path}
	return vegeta.Target{Method: method, URL: u.String(), Header: http.Header{"Accept": {"application/json"}}}
}
