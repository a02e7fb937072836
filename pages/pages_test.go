package pages_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tests"
)

// The seed "try before you buy": the first visit creates a guest and
// redirects to the same URL with the cookie; the next request is signed in.
func TestSeedTryBeforeYouBuy(t *testing.T) {
	s := newServer(t, testOptions{})
	before := countRecords(t, s.app, "users")

	first := s.do("GET", "/try?ref=ad", "")
	mustStatus(t, first, http.StatusFound)
	if loc := first.header.Get("Location"); loc != "/try?ref=ad" {
		t.Fatalf("expected a redirect to the same URL, got %q", loc)
	}
	cookie := first.authCookie()
	if cookie == "" {
		t.Fatalf("expected a pb_auth cookie, got headers %v", first.header)
	}
	if got := countRecords(t, s.app, "users"); got != before+1 {
		t.Fatalf("expected one new user, got %d -> %d", before, got)
	}

	second := s.do("GET", "/try?ref=ad", "", "Cookie: "+cookie)
	mustStatus(t, second, http.StatusOK)
	mustContain(t, second, "Try before you buy", "anonymous=true")
	if got := countRecords(t, s.app, "users"); got != before+1 {
		t.Fatalf("the signed-in visit must not create another guest: %d -> %d", before, got)
	}
}

// The guide's "Continue as Guest" form: POST signs in and redirects home,
// where the next request shows the guest.
func TestSeedContinueAsGuestForm(t *testing.T) {
	s := newServer(t, testOptions{})

	form := s.do("GET", "/guest", "")
	mustStatus(t, form, http.StatusOK)
	mustContain(t, form, `<button type="submit">Continue as Guest</button>`)
	mustNotContain(t, form, "<mark>")

	post := s.do("POST", "/guest", "mode=anonymous")
	mustStatus(t, post, http.StatusFound)
	if loc := post.header.Get("Location"); loc != "/" {
		t.Fatalf("expected redirect to /, got %q", loc)
	}
	cookie := post.authCookie()
	if cookie == "" {
		t.Fatal("expected the pb_auth cookie")
	}

	home := s.do("GET", "/", "", "Cookie: "+cookie)
	mustStatus(t, home, http.StatusOK)
	mustContain(t, home, "signed in: ", "anonymous=true")

	anon := s.do("GET", "/", "")
	mustContain(t, anon, "not signed in")
}

// The API seed's guest checkout: formData.action (property spelling), a
// guest created *in customers*, a page module, and the error shown with
// <%= error.message %> when sign-in fails.
func TestSeedGuestCheckout(t *testing.T) {
	s := newServer(t, testOptions{})
	users, customers := countRecords(t, s.app, "users"), countRecords(t, s.app, "customers")

	post := s.do("POST", "/checkout", "action=guest-checkout")
	mustStatus(t, post, http.StatusFound)
	cookie := post.authCookie()
	if cookie == "" {
		t.Fatalf("expected the pb_auth cookie:\n%s", post.body)
	}
	if got := countRecords(t, s.app, "customers"); got != customers+1 {
		t.Fatalf("expected the guest in customers: %d -> %d", customers, got)
	}
	if got := countRecords(t, s.app, "users"); got != users {
		t.Fatalf("no user must be created: %d -> %d", users, got)
	}

	page := s.do("GET", "/checkout", "", "Cookie: "+cookie)
	mustStatus(t, page, http.StatusOK)
	mustContain(t, page, "checking out as ", " in customers")
}

func TestSeedGuestCheckoutShowsError(t *testing.T) {
	s := newServer(t, testOptions{guests: []string{"users"}}) // customers not enabled

	res := s.do("POST", "/checkout", "action=guest-checkout")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res,
		`Failed to create guest account: Anonymous sign-in is not enabled for collection &#34;customers&#34;. (status 403)`)
	if res.authCookie() != "" {
		t.Fatal("no cookie on a failed sign-in")
	}
}

func TestSignInOptionsInPages(t *testing.T) {
	factory := func(t testing.TB) *tests.TestApp { return newTestApp(t, testOptions{}) }
	scenarios := []tests.ApiScenario{
		{
			Name: "default collection", Method: "GET", URL: "/signin-options",
			ExpectedStatus:  200,
			ExpectedContent: []string{"ok users true token=true auth=true authToken=true"},
		},
		{
			Name: "customers", Method: "GET", URL: "/signin-options?c=customers",
			ExpectedStatus:  200,
			ExpectedContent: []string{"ok customers true token=true auth=true authToken=true"},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if n := countRecords(t, app, "customers"); n != 1 {
					t.Fatalf("expected 1 customer, got %d", n)
				}
			},
		},
		{
			Name: "unknown collection", Method: "GET", URL: "/signin-options?c=nope",
			ExpectedStatus:  200,
			ExpectedContent: []string{"error status=404 message=Missing collection &#34;nope&#34;."},
		},
		{
			Name: "not an auth collection", Method: "GET", URL: "/signin-options?c=posts",
			ExpectedStatus:  200,
			ExpectedContent: []string{"error status=400 message=Collection &#34;posts&#34; is not an auth collection."},
		},
	}
	for _, sc := range scenarios {
		sc.TestAppFactory = factory
		sc.Test(t)
	}
}

func TestRateLimitedSignInInPage(t *testing.T) {
	s := newServer(t, testOptions{rateLimit: 1})
	mustContain(t, s.do("GET", "/signin-options", ""), "ok users")
	mustContain(t, s.do("GET", "/signin-options", ""), "error status=429 message=Too many anonymous sign-ins")
}

func TestPageGlobals(t *testing.T) {
	t.Setenv("POCKETGUEST_TEST_ENV", "env-value")
	s := newServer(t, testOptions{})

	res := s.do("POST", "/globals?a=1&b=2", "name=Ada",
		"X-Test: hdr-value",
		"Cookie: prefs="+url.PathEscape(`{"theme":"dark"}`)+"; plain=just%20text",
	)
	mustStatus(t, res, http.StatusCreated)
	mustContain(t, res,
		"method=POST",
		"pathname=/globals",
		"query.a=1",
		"href=/globals?a=1&amp;b=2",
		"header=hdr-value missing=[]",
		"cookie=dark plain=just text",
		"params.a=1",
		"body.name=Ada formData.name=Ada",
		"meta=Globals page",
		`echo=echoed {"n":1}`,
		"env=env-value",
		"visits=1",
		"settings=PocketGuest Demo/EUR",
		"cart=2 same=true",
		"status=201 header=globals",
		"auth= api.auth= api.params.a=1",
		"pb=function/function/function/function/function",
		"hooks-global=function/function/function",
		"event=object",
	)
	if got := res.header.Get("X-Page"); got != "globals" {
		t.Fatalf("X-Page header = %q", got)
	}
	cookies := res.header.Values("Set-Cookie")
	if len(cookies) != 2 || !strings.HasPrefix(cookies[0], "flavor=%7B%22kind%22%3A%22choc%20chip%22%7D; Path=/; Max-Age=60; HttpOnly") || !strings.HasPrefix(cookies[1], "second=two; Path=/") {
		t.Fatalf("expected both cookies kept, got %q", cookies)
	}

	// store() is app-wide; modules are fresh per request.
	again := s.do("POST", "/globals", "name=x", "Cookie: prefs="+url.PathEscape(`{"theme":"dark"}`))
	mustContain(t, again, "visits=2", "cart=2 same=true")
}

func TestEscaping(t *testing.T) {
	s := newServer(t, testOptions{})
	res := s.do("GET", "/escape?q="+url.QueryEscape(`<script>alert("x")</script>&'`), "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, `<p class="q">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;</p>`, `<p class="raw"><b>raw</b></p>`)
	mustNotContain(t, res, "<script>")
}

func TestRouting(t *testing.T) {
	factory := func(t testing.TB) *tests.TestApp { return newTestApp(t, testOptions{}) }
	notFound := []string{`"status":404`, `"message":"The requested resource wasn't found."`}
	scenarios := []tests.ApiScenario{
		{Method: "GET", URL: "/", ExpectedStatus: 200, ExpectedContent: []string{"<h1>Home</h1>", "not signed in"}},
		{Method: "GET", URL: "/checkout", ExpectedStatus: 200, ExpectedContent: []string{"checkout-options"}},
		{Method: "GET", URL: "/checkout/", ExpectedStatus: 200, ExpectedContent: []string{"checkout-options"}},
		{Method: "GET", URL: "/products/abc?color=red", ExpectedStatus: 200, ExpectedContent: []string{"product id=abc color=red"}},
		{Name: "route param wins over query", Method: "GET", URL: "/products/abc?id=evil", ExpectedStatus: 200, ExpectedContent: []string{"product id=abc "}},
		{Name: "static segment beats param", Method: "GET", URL: "/products/new", ExpectedStatus: 200, ExpectedContent: []string{"new product form"}},
		{Name: "group folder vanishes", Method: "GET", URL: "/cart", ExpectedStatus: 200, ExpectedContent: []string{"cart page from a group folder"}},
		{Name: "static file", Method: "GET", URL: "/css/site.css", ExpectedStatus: 200, ExpectedContent: []string{"body { color: #333; }"}},
		{Name: "static file, wrong method", Method: "POST", URL: "/css/site.css", ExpectedStatus: 405, ExpectedContent: []string{`"status":405`}},
		{Name: "exact match only", Method: "GET", URL: "/products/abc/extra", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "unknown page", Method: "GET", URL: "/nope", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "private template", Method: "GET", URL: "/_private/header", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "private template file", Method: "GET", URL: "/_private/header.ejs", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "private module", Method: "GET", URL: "/_private/cart.js", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "underscore file", Method: "GET", URL: "/_secret", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "plus file", Method: "GET", URL: "/+plus", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "minus file", Method: "GET", URL: "/-draft", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "template source is not static", Method: "GET", URL: "/index.ejs", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "group folder name is not a URL", Method: "GET", URL: "/(shop)/cart", ExpectedStatus: 404, ExpectedContent: notFound},
		{Name: "a page under /api answers its URL", Method: "GET", URL: "/api/chat", ExpectedStatus: 200, ExpectedContent: []string{"a page under /api: GET"}},
		{Name: "... and a same-origin POST", Method: "POST", URL: "/api/chat", Headers: map[string]string{"Sec-Fetch-Site": "same-origin"}, ExpectedStatus: 200, ExpectedContent: []string{"a page under /api: POST"}},
		{Name: "... but not a cross-site POST", Method: "POST", URL: "/api/chat", Headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, ExpectedStatus: 403, NotExpectedContent: []string{"a page under /api"}},
		{Name: "PocketBase's route wins over a page", Method: "GET", URL: "/api/health", ExpectedStatus: 200, ExpectedContent: []string{`"code":200`}, NotExpectedContent: []string{"must never be served"}},
		{Name: "PocketBase's path, another method", Method: "DELETE", URL: "/api/health", ExpectedStatus: 404, NotExpectedContent: []string{"must never be served"}},
		{Name: "PocketBase's realtime, another method", Method: "PUT", URL: "/api/realtime", ExpectedStatus: 404, NotExpectedContent: []string{"must never be served"}},
		{Name: "PocketBase's records list, another method", Method: "DELETE", URL: "/api/collections/users/records", ExpectedStatus: 404, NotExpectedContent: []string{"must never be served"}},
		{Name: "traversal, encoded slash", Method: "GET", URL: "/products/..%2f_private%2fcart.js", ExpectedStatus: 404, NotExpectedContent: []string{"module.exports"}},
		{Name: "traversal, encoded dots", Method: "GET", URL: "/css/%2e%2e/%2e%2e/plugin.go", ExpectedStatus: 404, NotExpectedContent: []string{"package pages"}},
		{Name: "traversal, backslash", Method: "GET", URL: "/css/..%5c_private%5ccart.js", ExpectedStatus: 404, NotExpectedContent: []string{"module.exports"}},
	}
	for _, sc := range scenarios {
		sc.TestAppFactory = factory
		sc.Test(t)
	}
}

// Go's mux answers a raw "../" with a redirect to the cleaned path; what
// matters is that no file outside the served tree is ever returned.
func TestTraversalRawDots(t *testing.T) {
	s := newServer(t, testOptions{})
	for _, p := range []string{"/css/../../helpers_test.go", "/css/../_private/cart.js", "/../plugin.go"} {
		res := s.do("GET", p, "")
		if res.status == http.StatusOK || strings.Contains(res.body, "module.exports") || strings.Contains(res.body, "package pages") {
			t.Fatalf("%s: status %d body %q", p, res.status, res.body)
		}
	}
}

func TestRedirectStopsRender(t *testing.T) {
	s := newServer(t, testOptions{})
	res := s.do("GET", "/redirect", "")
	mustStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/target?__flash=saved&x=1" {
		t.Fatalf("Location = %q", loc)
	}
	mustNotContain(t, res, "caught", "after redirect", "must not run")

	// from a page module and from an include, through the page's try/catch
	for page, want := range map[string]string{"/redirect-module": "/from-module", "/redirect-include": "/from-include"} {
		res := s.do("GET", page, "")
		mustStatus(t, res, http.StatusFound)
		if loc := res.header.Get("Location"); loc != want {
			t.Fatalf("%s: Location = %q, want %q", page, loc, want)
		}
		mustNotContain(t, res, "caught", "after")
	}
}

func TestJSONAndContentType(t *testing.T) {
	s := newServer(t, testOptions{})
	res := s.do("GET", "/json?id=7", "")
	mustStatus(t, res, http.StatusOK)
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if strings.TrimSpace(res.body) != `{"id":"7","list":[1,2],"ok":true}` {
		t.Fatalf("body = %q", res.body)
	}

	plain := s.do("GET", "/teapot", "")
	if ct := plain.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || plain.body != "plain text 2\n" {
		t.Fatalf("got %q %q", ct, plain.body)
	}
}

func TestErrorsDevMode(t *testing.T) {
	s := newServer(t, testOptions{dev: true})

	res := s.do("GET", "/runtime-error", "")
	mustStatus(t, res, http.StatusInternalServerError)
	mustContain(t, res, "runtime-error.ejs:4: ReferenceError: notDefinedAnywhere is not defined")

	res = s.do("GET", "/syntax-error", "")
	mustStatus(t, res, http.StatusInternalServerError)
	mustContain(t, res, "syntax-error.ejs:4: SyntaxError")

	res = s.do("GET", "/include-error", "")
	mustStatus(t, res, http.StatusInternalServerError)
	mustContain(t, res, "_private/broken.ejs:2: ReferenceError: alsoNotDefined is not defined", "include-error.ejs:2")
}

func TestErrorsProductionMode(t *testing.T) {
	s := newServer(t, testOptions{})
	for _, p := range []string{"/runtime-error", "/syntax-error", "/include-error"} {
		res := s.do("GET", p, "")
		mustStatus(t, res, http.StatusInternalServerError)
		mustContain(t, res, "500 Internal Server Error")
		mustNotContain(t, res, "ReferenceError", "SyntaxError", ".ejs")
	}

	// an uncaught sign-in error keeps its status
	res := s.do("GET", "/uncaught", "")
	mustStatus(t, res, http.StatusNotFound)
	mustContain(t, res, "404 Not Found")
	mustNotContain(t, res, "nope")
}

func TestRenderTimeoutAndVMReuse(t *testing.T) {
	s := newServer(t, testOptions{dev: true, renderTimeout: 100 * time.Millisecond, poolSize: 1})

	start := time.Now()
	res := s.do("GET", "/slow", "")
	mustStatus(t, res, http.StatusInternalServerError)
	mustContain(t, res, "timed out", "slow.ejs:1")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}

	res = s.do("GET", "/slow-caught", "")
	mustStatus(t, res, http.StatusInternalServerError)
	mustNotContain(t, res, "caught the timeout")

	// the same (single pooled) VM renders normally afterwards
	for i := 0; i < 3; i++ {
		mustContain(t, s.do("GET", "/products/p"+fmt.Sprint(i), ""), fmt.Sprintf("product id=p%d ", i))
	}
}

func TestNoGlobalsLeakBetweenRenders(t *testing.T) {
	s := newServer(t, testOptions{poolSize: 1})
	mustContain(t, s.do("GET", "/leak", ""), "before=undefined")
	mustContain(t, s.do("GET", "/leak", ""), "before=undefined")
}

func TestSignOutInPage(t *testing.T) {
	s := newServer(t, testOptions{})
	cookie := s.do("GET", "/try", "").authCookie()
	res := s.do("GET", "/signout", "", "Cookie: "+cookie)
	mustContain(t, res, "was=in now=out")
	found := false
	for _, c := range res.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "pb_auth=;") && strings.Contains(c, "Max-Age=0") {
			found = true
		}
	}
	if !found {
		t.Fatalf("expected an expired pb_auth cookie, got %q", res.header.Values("Set-Cookie"))
	}
}

func TestIncludesAndModulesWalkUp(t *testing.T) {
	s := newServer(t, testOptions{})
	res := s.do("GET", "/sub/deep/page", "")
	mustStatus(t, res, http.StatusOK)
	mustContain(t, res, "<nav>sub nav</nav>", "<h1>Deep</h1>", "module from root: PocketGuest Demo")
}

func TestTemplateChangesAreSeen(t *testing.T) {
	dir := copyDir(t, "testdata/site")
	s := newServer(t, testOptions{templatesDir: dir, dev: true})

	page := filepath.Join(dir, "products", "new.ejs")
	mustContain(t, s.do("GET", "/products/new", ""), "new product form")

	if err := os.WriteFile(page, []byte("<p>edited <%= 1 + 1 %></p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustContain(t, s.do("GET", "/products/new", ""), "edited 2")

	// an include changes too
	if err := os.WriteFile(filepath.Join(dir, "_private", "header.ejs"), []byte("<h1>New header <%= title %></h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustContain(t, s.do("GET", "/", ""), "New header Home")

	// dev mode: a new file is routable, a deleted one is gone
	if err := os.WriteFile(filepath.Join(dir, "fresh.ejs"), []byte("fresh page"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustContain(t, s.do("GET", "/fresh", ""), "fresh page")
	os.Remove(filepath.Join(dir, "fresh.ejs"))
	mustStatus(t, s.do("GET", "/fresh", ""), http.StatusNotFound)
}

// 50 concurrent renders of different pages, through one app: the template
// cache, the VM pool and per-request state must not mix requests.
func TestConcurrentRenders(t *testing.T) {
	s := newServer(t, testOptions{poolSize: 4})

	type check struct{ url, want string }
	var checks []check
	for i := 0; i < 50; i++ {
		switch i % 5 {
		case 0:
			checks = append(checks, check{fmt.Sprintf("/products/id%d?color=c%d", i, i), fmt.Sprintf("product id=id%d color=c%d", i, i)})
		case 1:
			checks = append(checks, check{fmt.Sprintf("/escape?q=%%3Cq%d%%3E", i), fmt.Sprintf("<p class=\"q\">&lt;q%d&gt;</p>", i)})
		case 2:
			checks = append(checks, check{"/sub/deep/page", "<h1>Deep</h1>"})
		case 3:
			checks = append(checks, check{fmt.Sprintf("/json?id=%d", i), fmt.Sprintf(`"id":"%d"`, i)})
		case 4:
			checks = append(checks, check{"/", "<h1>Home</h1>"})
		}
	}

	var wg sync.WaitGroup
	errs := make(chan string, len(checks))
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.do("GET", c.url, "")
			if res.status != 200 || !strings.Contains(res.body, c.want) {
				errs <- fmt.Sprintf("%s: status %d, want %q in %q", c.url, res.status, c.want, res.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// The hook's cookie is a working session for the pages and the API.
func TestHooksCookieIsASession(t *testing.T) {
	s := newServer(t, testOptions{})
	res := s.do("POST", "/api/guest/start", `{}`, "Content-Type: application/json")
	mustStatus(t, res, 200)
	page := s.do("GET", "/", "", "Cookie: "+res.authCookie())
	mustContain(t, page, "signed in: ", "anonymous=true")
}
