package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/internal/devserver"
	"github.com/pocketguest/pocketguest/pages/plugins"
)

// PocketPages' official starters (../shared/pocketpages-starters, copied
// unchanged from PocketPages) must run on the pocketguest binary where they
// stand: each test copies one into a temp folder, never editing the
// fixture, and runs the real binary in it with no flag about pages.

// startersDir is where the fixtures live: next to the repository.
func startersDir(t *testing.T) string {
	t.Helper()
	root, err := devserver.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "..", "shared", "pocketpages-starters")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: the PocketPages starters are missing at %s", dir)
		}
		t.Skipf("the PocketPages starters are not at %s", dir)
	}
	return dir
}

// requirePlugins skips when a starter needs a built-in plugin this build
// does not have yet (they are built in pages/plugins).
func requirePlugins(t *testing.T, fixture string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixture, "pb_hooks", "pages", "+config.js"))
	if err != nil {
		return // no +config.js: the ejs plugin only, which the engine is
	}
	for _, name := range regexp.MustCompile(`pocketpages-plugin-[a-z-]+`).FindAllString(string(raw), -1) {
		if name == "pocketpages-plugin-ejs" {
			continue
		}
		if _, ok := plugins.Module(name); !ok {
			t.Skipf("needs the built-in %s (pages/plugins), not in this build yet", name)
		}
	}
}

// startStarter serves a copy of the named starter with the real binary,
// as `pocketguest serve` in the project's folder would.
func startStarter(t *testing.T, name string) (*server, string) {
	t.Helper()
	fixture := filepath.Join(startersDir(t), name)
	requirePlugins(t, fixture)
	bin, err := pocketguestBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := devserver.CopyDir(fixture, dir); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "pb_data")
	up := exec.Command(bin, "superuser", "upsert", adminEmail, adminPassword, "--dir", dataDir)
	up.Dir = dir
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, out)
	}
	addr, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := devserver.Start(devserver.Options{Binary: bin, Dir: dir, Args: []string{
		"serve", "--http", addr, "--dir", dataDir, "--dev=false", "--automigrate=false", "--anonRateLimit", "10000",
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{URL: "http://" + addr, proc: proc, log: proc.Log}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	if err := s.waitHealthy(30 * time.Second); err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.log.String())
	}
	var auth struct {
		Token string `json:"token"`
	}
	status, err := s.api(http.MethodPost, "/api/collections/_superusers/auth-with-password", map[string]string{
		"identity": adminEmail, "password": adminPassword,
	}, &auth)
	if err != nil || status != http.StatusOK {
		t.Fatalf("superuser sign-in: status %d, %v", status, err)
	}
	s.token = auth.Token
	return s, fixture
}

// pageURLs lists the URL of every page file of a starter (files the
// starter's plugins render), with "x" for route parameters.
func pageURLs(t *testing.T, fixture string) []string {
	t.Helper()
	pagesDir := filepath.Join(fixture, "pb_hooks", "pages")
	config, _ := os.ReadFile(filepath.Join(pagesDir, "+config.js"))
	exts := map[string]bool{".ejs": true, ".md": strings.Contains(string(config), "'.md'")}
	var urls []string
	err := filepath.WalkDir(pagesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(pagesDir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if strings.ContainsAny(d.Name()[:1], "_+-.") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !exts[path.Ext(rel)] {
			return nil
		}
		var segs []string
		for _, s := range strings.Split(strings.TrimSuffix(rel, path.Ext(rel)), "/") {
			switch {
			case strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")"):
			case strings.HasPrefix(s, "["):
				segs = append(segs, "x")
			default:
				segs = append(segs, s)
			}
		}
		if len(segs) > 0 && segs[len(segs)-1] == "index" {
			segs = segs[:len(segs)-1]
		}
		urls = append(urls, "/"+strings.Join(segs, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(urls)
	return urls
}

// client is a cookie-keeping HTTP client that does not follow redirects
// (the tests look at them).
func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

func fetchPage(t *testing.T, c *http.Client, method, target string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin") // as a browser's own form post
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(raw)}
}

func (p page) mustContain(t *testing.T, what string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(p.body, part) {
			t.Fatalf("%s: expected %q in the body (status %d):\n%.2000s", what, part, p.status, p.body)
		}
	}
}

// Every page of every starter renders without a server error, with no
// node_modules and PocketPages' own layout (pb_hooks/pages,
// pocketpages.pb.js requiring 'pocketpages').
func TestStartersEveryPageRenders(t *testing.T) {
	for _, name := range []string{"minimal", "mvp", "daisyui", "daisyui-docs", "htmx", "datastar", "auth"} {
		t.Run(name, func(t *testing.T) {
			s, fixture := startStarter(t, name)
			if strings.Contains(s.log.String(), "pocketpages.pb.js") {
				t.Fatalf("pb_hooks/pocketpages.pb.js failed to load:\n%s", s.log.String())
			}
			c := newClient(t)
			urls := pageURLs(t, fixture)
			if len(urls) == 0 {
				t.Fatal("no pages found in the fixture")
			}
			for _, u := range urls {
				if postOnly[name+" "+u] {
					continue
				}
				res := fetchPage(t, c, http.MethodGet, s.URL+u, nil)
				if res.status >= 500 || res.status == http.StatusNotFound {
					t.Errorf("GET %s: %d\n%.1500s", u, res.status, res.body)
				}
			}
		})
	}
}

// postOnly are endpoints that read a POST body without checking the method
// (a GET fails in the page's own code, on PocketPages too); their own
// tests post to them.
var postOnly = map[string]bool{"datastar /api/chat": true}

// The htmx starter posts to pages under /api/: the counter counts and a
// chat message reaches a client subscribed to PocketBase's realtime API.
func TestStarterHTMXCountAndChat(t *testing.T) {
	s, _ := startStarter(t, "htmx")
	c := newClient(t)

	first := fetchPage(t, c, http.MethodGet, s.URL+"/api/count", nil)
	second := fetchPage(t, c, http.MethodGet, s.URL+"/api/count", nil)
	first.mustContain(t, "first count", "<b>2</b>")
	second.mustContain(t, "second count", "<b>3</b>")

	sse := subscribe(t, s.URL, "chat")
	res := fetchPage(t, c, http.MethodPost, s.URL+"/api/chat", url.Values{"message": {"hello from the test"}})
	if res.status != http.StatusOK {
		t.Fatalf("POST /api/chat: %d\n%s", res.status, res.body)
	}
	got := sse.next(t, "chat")
	var msg string
	if err := json.Unmarshal([]byte(got), &msg); err != nil {
		t.Fatalf("chat event data is not the JSON string the page sent: %q", got)
	}
	if !strings.Contains(msg, "<div>hello from the test</div>") {
		t.Fatalf("chat event: %q", msg)
	}
}

// The daisyui-docs starter's .md pages are routed, run through EJS then
// Markdown, inside their layouts with the table of contents included.
func TestStarterDaisyUIDocsMarkdown(t *testing.T) {
	s, _ := startStarter(t, "daisyui-docs")
	res := fetchPage(t, newClient(t), http.MethodGet, s.URL+"/docs/overview", nil)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs/overview: %d %s", res.status, res.header.Get("Content-Type"))
	}
	res.mustContain(t, "overview",
		`<h1 id="overview">Overview</h1>`,               // the page, as HTML with heading ids
		`<h1 id="getting-started">Getting Started</h1>`, // include('toc.md'), as HTML
		`<a href="/docs/overview">Overview</a>`,
		`data-theme="cupcake"`,  // the outer layout
		`drawer lg:drawer-open`, // the docs layout
	)
	if strings.Contains(res.body, "# Overview") {
		t.Fatal("the Markdown was not rendered")
	}
}

// The datastar starter: a room page renders, and a chat message posted the
// way Datastar posts it (signals as JSON) reaches the subscribed client of
// that room as a patch-elements event.
func TestStarterDatastarChat(t *testing.T) {
	s, _ := startStarter(t, "datastar")
	c := newClient(t)
	fetchPage(t, c, http.MethodGet, s.URL+"/lobby", nil).mustContain(t, "room page", `id="count"`)

	sse := subscribe(t, s.URL, "datastar")
	signals, _ := json.Marshal(map[string]string{"clientId": sse.clientID, "roomName": "lobby", "from": "tester", "message": "hello datastar"})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/chat", strings.NewReader(string(signals)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Datastar-Request", "true")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/chat: %d\n%s", res.StatusCode, raw)
	}
	if !strings.Contains(string(raw), "datastar-patch-signals") {
		t.Fatalf("the poster gets its input cleared by a patch-signals event, got:\n%s", raw)
	}
	if got := sse.next(t, "datastar"); !strings.Contains(got, "hello datastar") {
		t.Fatalf("datastar event: %q", got)
	}
}

// The auth starter's journeys over HTTP, as a browser without JS would do
// them: guest, register, logout, password login.
func TestStarterAuthJourney(t *testing.T) {
	s, _ := startStarter(t, "auth")

	t.Run("guest", func(t *testing.T) {
		c := newClient(t)
		if res := fetchPage(t, c, http.MethodGet, s.URL+"/account", nil); res.status != http.StatusFound || !strings.HasPrefix(res.location, "/auth/login") {
			t.Fatalf("/account without a session: %d %q", res.status, res.location)
		}
		res := fetchPage(t, c, http.MethodPost, s.URL+"/auth/login", url.Values{"mode": {"anonymous"}})
		if res.status != http.StatusFound || res.location != "/" {
			t.Fatalf("anonymous login: %d %q\n%.1500s", res.status, res.location, res.body)
		}
		fetchPage(t, c, http.MethodGet, s.URL+"/account", nil).mustContain(t, "account", "Welcome, anonymous-")
	})

	// Mails (verification, OTP) go to a sink the test reads like an inbox.
	sink := newSMTPSink(t)
	s.useSMTPSink(t, sink)

	email, password := "starter-user@example.com", "a-long-password-123"
	t.Run("register, logout, password login", func(t *testing.T) {
		c := newClient(t)
		res := fetchPage(t, c, http.MethodPost, s.URL+"/auth/register", url.Values{"identity": {email}, "password": {password}})
		if res.status != http.StatusFound {
			t.Fatalf("register: %d\n%.2000s", res.status, res.body)
		}
		fetchPage(t, c, http.MethodGet, s.URL+"/account", nil).mustContain(t, "account after register", "Welcome, "+email, "unverified")

		if res := fetchPage(t, c, http.MethodGet, s.URL+"/auth/logout", nil); res.status != http.StatusFound {
			t.Fatalf("logout: %d", res.status)
		}
		if res := fetchPage(t, c, http.MethodGet, s.URL+"/account", nil); res.status != http.StatusFound {
			t.Fatalf("/account after logout: %d", res.status)
		}

		res = fetchPage(t, c, http.MethodPost, s.URL+"/auth/login", url.Values{"mode": {"password"}, "identity": {email}, "password": {"wrong-password-1"}})
		if res.status != http.StatusOK {
			t.Fatalf("wrong password: %d", res.status)
		}
		res.mustContain(t, "wrong password", "<mark>")
		res = fetchPage(t, c, http.MethodPost, s.URL+"/auth/login", url.Values{"mode": {"password"}, "identity": {email}, "password": {password}})
		if res.status != http.StatusFound {
			t.Fatalf("password login: %d\n%.2000s", res.status, res.body)
		}
		fetchPage(t, c, http.MethodGet, s.URL+"/account", nil).mustContain(t, "account after login", "Welcome, "+email)
	})

	t.Run("verification link from the mail", func(t *testing.T) {
		c := newClient(t)
		fetchPage(t, c, http.MethodPost, s.URL+"/auth/login", url.Values{"mode": {"password"}, "identity": {email}, "password": {password}})
		// the user asks for the mail (the SDK's requestVerification); if
		// registering already sent one, PocketBase skips this one and the
		// first mail is the one to use
		if status, err := s.api(http.MethodPost, "/api/collections/users/request-verification", map[string]string{"email": email}, nil); err != nil || status != http.StatusNoContent {
			t.Fatalf("request-verification: %d %v", status, err)
		}
		// the starter's migrations make the mail link to its own page
		link := regexp.MustCompile(`/auth/confirm/[A-Za-z0-9_.-]+/verification`).FindString(sink.waitMail(t, 0, "/verification"))
		if link == "" {
			t.Fatal("no verification link in the mail")
		}
		res := fetchPage(t, c, http.MethodGet, s.URL+link, nil)
		if res.status != http.StatusFound || !strings.HasPrefix(res.location, "/") {
			t.Fatalf("confirm: %d %q\n%.1500s", res.status, res.location, res.body)
		}
		fetchPage(t, c, http.MethodGet, s.URL+"/account", nil).mustContain(t, "account after verification", "Status: verified")

		if res := fetchPage(t, c, http.MethodGet, s.URL+"/auth/confirm/not-a-token/verification", nil); res.status >= 500 {
			t.Fatalf("a bad token must not be a server error: %d", res.status)
		}
	})

	t.Run("OTP code from the mail", func(t *testing.T) {
		if status, err := s.api(http.MethodPatch, "/api/collections/users", map[string]any{"otp": map[string]any{"enabled": true}}, nil); err != nil || status != http.StatusOK {
			t.Fatalf("enabling OTP: %d %v", status, err)
		}
		c := newClient(t)
		before := sink.count()
		res := fetchPage(t, c, http.MethodPost, s.URL+"/auth/login/otp", url.Values{"mode": {"otp-request"}, "identity": {email}})
		otpID := regexp.MustCompile(`name="otpId" value="([^"]+)"`).FindStringSubmatch(res.body)
		if res.status != http.StatusOK || otpID == nil || otpID[1] == "" || otpID[1] == "null" {
			t.Fatalf("OTP request: %d\n%.2000s", res.status, res.body)
		}
		code := regexp.MustCompile(`<strong>(\d+)</strong>`).FindStringSubmatch(sink.waitMail(t, before, "one-time password"))
		if code == nil {
			t.Fatal("no OTP code in the mail")
		}
		res = fetchPage(t, c, http.MethodPost, s.URL+"/auth/login/otp", url.Values{"mode": {"otp-confirm"}, "otpId": {otpID[1]}, "otpCode": {code[1]}, "identity": {email}})
		if res.status != http.StatusFound {
			t.Fatalf("OTP confirm: %d\n%.2000s", res.status, res.body)
		}
		fetchPage(t, c, http.MethodGet, s.URL+"/account", nil).mustContain(t, "account after OTP", "Welcome, "+email)
	})
}

// sseClient reads PocketBase's realtime stream.
type sseClient struct {
	clientID string
	events   chan sseEvent
}

type sseEvent struct{ name, data string }

// subscribe connects to /api/realtime and subscribes to topics.
func subscribe(t *testing.T, base string, topics ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/realtime", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	c := &sseClient{events: make(chan sseEvent, 16)}
	go func() {
		defer res.Body.Close()
		defer close(c.events)
		scanner := bufio.NewScanner(res.Body)
		scanner.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case line == "":
				if ev.name != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event:"):
				ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				ev.data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			}
		}
	}()

	var connect struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal([]byte(c.next(t, "PB_CONNECT")), &connect); err != nil || connect.ClientID == "" {
		t.Fatalf("PB_CONNECT: %v", err)
	}
	c.clientID = connect.ClientID
	body, _ := json.Marshal(map[string]any{"clientId": connect.ClientID, "subscriptions": topics})
	sub, err := http.Post(base+"/api/realtime", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	sub.Body.Close()
	if sub.StatusCode != http.StatusNoContent {
		t.Fatalf("subscribe: %d", sub.StatusCode)
	}
	return c
}

// next waits for the next event named name and returns its data. The bound
// only keeps a broken server from hanging the test.
func (c *sseClient) next(t *testing.T, name string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("the realtime stream closed before a %s event", name)
			}
			if ev.name == name {
				return ev.data
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}
