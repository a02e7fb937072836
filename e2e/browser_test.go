package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The shared fixtures: one server, one Chromium. Built on first use and
// torn down by TestMain.
var (
	envOnce    sync.Once
	envErr     error
	shop       *server
	browserCtx context.Context
	stopEnv    []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(stopEnv) - 1; i >= 0; i-- {
		stopEnv[i]()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// chromePath finds Chromium or Chrome.
func chromePath() (string, []string) {
	candidates := []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "chrome"}
	if p := os.Getenv("POCKETGUEST_E2E_CHROME"); p != "" {
		candidates = append([]string{p}, candidates...)
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, candidates
		}
	}
	return "", candidates
}

// requireEnv skips (locally) or fails (CI=true) without Chromium, then
// returns the shared server and browser.
func requireEnv(t testing.TB) *server {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests skipped in -short mode")
	}
	chrome, tried := chromePath()
	if chrome == "" {
		msg := fmt.Sprintf("Chromium not found (tried %s and $POCKETGUEST_E2E_CHROME): install it, e.g. `apt-get install chromium chromium-driver`, to run the browser tests", strings.Join(tried, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip(msg)
	}
	envOnce.Do(func() {
		// A high sign-in limit: all tests (and -count=N reruns) come from
		// 127.0.0.1. The limit itself is tested on a server of its own.
		shop, envErr = startServer("--anonRateLimit", "10000")
		if envErr != nil {
			return
		}
		stopEnv = append(stopEnv, shop.stop)
		browserCtx, envErr = startBrowser(chrome)
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shop
}

func startBrowser(chrome string) (context.Context, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // CI containers run as root
		chromedp.WindowSize(1280, 900),
		// localhost stays on the loopback interface (the cross-site test
		// serves its attacker page from http://localhost:<port>).
		chromedp.Flag("host-resolver-rules", "MAP localhost 127.0.0.1"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	stopEnv = append(stopEnv, cancelAlloc, cancel)
	// The first Do starts the browser, which then lives as long as the
	// context given to it: ctx itself, not a shorter-lived child.
	if err := chromedp.Do(ctx); err != nil {
		return nil, fmt.Errorf("starting Chromium (%s): %w", chrome, err)
	}
	return ctx, nil
}

func artifactsDir() string {
	if d := os.Getenv("POCKETGUEST_E2E_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "pocketguest-e2e-artifacts")
}

// tab is one browser tab driven by a test.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string

	mu        sync.Mutex
	requests  []string           // every URL the tab requested
	documents []documentResponse // every HTML document response, in order
}

type documentResponse struct {
	url    string
	status int64
}

// newVisitor opens a tab in a fresh browser context: a new visitor with an
// empty cookie jar.
func newVisitor(t *testing.T, s *server) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	return setupTab(t, s, ctx, cancel, fmt.Sprintf("visitor%d", visitorSeq.Add(1)))
}

// secondTab opens another tab in the same browser context as p: same
// cookies, like a user opening a second tab.
func (p *tab) secondTab() *tab {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	return setupTab(p.t, &server{URL: p.base}, ctx, cancel, p.name+"-tab2")
}

func setupTab(t *testing.T, s *server, ctx context.Context, cancel context.CancelFunc, name string) *tab {
	t.Helper()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	p := &tab{t: t, ctx: ctx, base: s.URL, name: name}
	if err := chromedp.Do(ctx, chromedp.Func(func(context.Context, *chromedp.Target) error { return nil })); err != nil {
		cancelTimeout()
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			p.mu.Lock()
			p.requests = append(p.requests, e.Request.URL)
			p.mu.Unlock()
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument {
				p.mu.Lock()
				p.documents = append(p.documents, documentResponse{url: e.Response.URL, status: e.Response.Status})
				p.mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatalf("listening to network events: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.saveArtifacts()
		}
		cancelTimeout()
		cancel()
	})
	return p
}

var visitorSeq atomic.Int64

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// saveArtifacts writes a screenshot and the HTML of the current page.
func (p *tab) saveArtifacts() {
	dir := artifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Logf("artifacts: %v", err)
		return
	}
	base := filepath.Join(dir, unsafeName.ReplaceAllString(p.t.Name(), "_")+"-"+p.name)
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	// Quality 100 gives a PNG (anything lower is a JPEG).
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		if err := os.WriteFile(base+".png", png, 0o644); err == nil {
			p.t.Logf("screenshot saved: %s.png", base)
		}
	} else {
		p.t.Logf("screenshot failed: %v", err)
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		_ = os.WriteFile(base+".html", []byte("<!-- "+loc+" -->\n"+html), 0o644)
		p.t.Logf("page HTML saved: %s.html", base)
	}
	if shop != nil {
		_ = os.WriteFile(filepath.Join(dir, "server.log"), []byte(shop.log.String()), 0o644)
	}
}

// open navigates to a path of the shop (or a full URL) and returns the
// HTTP status of the document.
func (p *tab) open(path string) int64 {
	p.t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = p.base + path
	}
	res, err := chromedp.Run(p.ctx, chromedp.NavigateResponse(target))
	if err != nil {
		p.t.Fatalf("open %s: %v", target, err)
	}
	if res == nil {
		return 0 // a same-document (hash) navigation has no response
	}
	return res.Status
}

// submit clicks a submit button (or link) and waits for the page it leads
// to, returning its status.
func (p *tab) submit(sel string) int64 {
	p.t.Helper()
	res, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		p.t.Fatalf("submit %s on %s: %v", sel, p.location(), err)
	}
	return res.Status
}

func (p *tab) fill(sel, value string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		p.t.Fatalf("fill %s: %v", sel, err)
	}
}

// text is the visible text of the first element matching sel ("" if none).
func (p *tab) text(sel string) string {
	p.t.Helper()
	return p.eval(fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText.trim()`, sel))
}

func (p *tab) count(sel string) int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		p.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func (p *tab) eval(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("eval %s: %v", js, err)
	}
	return s
}

// evalAsync runs an expression that returns a promise (e.g. a fetch from
// the page, with the page's cookies) and returns its string result.
func (p *tab) evalAsync(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v", js, err)
	}
	return s
}

func (p *tab) location() string {
	loc, _ := chromedp.Run(p.ctx, chromedp.Location())
	return loc
}

// path is the current location relative to the shop.
func (p *tab) path() string {
	return strings.TrimPrefix(p.location(), p.base)
}

func (p *tab) cartCount() string {
	p.t.Helper()
	return p.text(`[data-testid="cart-count"]`)
}

// session is what the pb_auth cookie says (Chromium hands HttpOnly cookies
// to the DevTools protocol).
type session struct {
	present  bool
	httpOnly bool
	sameSite string
	token    string
	record   record
}

func (p *tab) session() session {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base}})
	if err != nil {
		p.t.Fatalf("reading cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name != "pb_auth" || c.Value == "" {
			continue
		}
		raw, err := url.PathUnescape(c.Value)
		if err != nil {
			p.t.Fatalf("pb_auth cookie encoding: %v", err)
		}
		var payload struct {
			Token  string `json:"token"`
			Record record `json:"record"`
		}
		if err := json.Unmarshal([]byte(raw), &payload); err != nil {
			p.t.Fatalf("pb_auth cookie JSON: %v", err)
		}
		return session{present: true, httpOnly: c.HTTPOnly, sameSite: string(c.SameSite), token: payload.Token, record: payload.Record}
	}
	return session{}
}

// waitDocument waits until a document whose URL starts with prefix has
// loaded and returns its status.
func (p *tab) waitDocument(prefix string, timeout time.Duration) int64 {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		var found *documentResponse
		for i := range p.documents {
			if strings.HasPrefix(p.documents[i].url, prefix) {
				found = &p.documents[i]
			}
		}
		p.mu.Unlock()
		if found != nil && strings.HasPrefix(p.location(), prefix) {
			state, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.readyState`))
			if state == "complete" {
				return found.status
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("no document from %s loaded within %s (at %s)", prefix, timeout, p.location())
	return 0
}

func (p *tab) requestCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

// externalRequests lists requested URLs outside the shop's origin (data:
// URLs are inline, so they count as inside).
func (p *tab) externalRequests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, u := range p.requests {
		if strings.HasPrefix(u, p.base+"/") || u == p.base || strings.HasPrefix(u, "data:") {
			continue
		}
		out = append(out, u)
	}
	return out
}
