package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHostileWire sends malformed and oversized requests to the real
// binary as raw bytes on a TCP connection (no client library to tidy them
// up). Every answer must be a 4xx; answers from PocketBase's router (as
// opposed to net/http's own refusals before routing, marked "net/http")
// must be in PocketBase's error shape. The server must stay up and log no
// panic. (The in-process suites in anonauth/ and jsvm/ cover the endpoints
// input by input; this checks the same on the real listener.)
func TestHostileWire(t *testing.T) {
	ws := newWorkspace(t)
	s := startHealthy(t, ws)

	big := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name    string
		raw     string
		want    int
		netHTTP bool // refused by net/http before PocketBase sees it: plain text
	}{
		{"malformed JSON", post("/api/collections/users/auth-anonymously", "application/json", `{"fresh":`, ""), 400, false},
		{"wrong type", post("/api/collections/users/auth-anonymously", "application/json", `{"fresh":{"a":[1]}}`, ""), 400, false},
		{"upgrade without session", post("/api/collections/users/upgrade-anonymous", "application/json", `{"email":"a@b.co"}`, ""), 401, false},
		{"delete without session", post("/api/collections/users/delete-anonymous", "", "", ""), 401, false},
		{"forged token", post("/api/collections/users/upgrade-anonymous", "application/json", `{}`, "Authorization: eyJhbGciOiJIUzI1NiJ9.eyJpZCI6IngifQ.forged\r\n"), 401, false},
		{"garbage cookie", post("/api/collections/users/delete-anonymous", "", "", "Cookie: pb_auth=%%%7B%\r\n"), 401, false},
		{"100 KB cookie", post("/api/collections/users/delete-anonymous", "", "", "Cookie: pb_auth="+big(100_000)+"\r\n"), 401, false},
		{"unknown collection", post("/api/collections/"+big(2000)+"/auth-anonymously", "", "", ""), 404, false},
		{"traversal in collection", post("/api/collections/..%2f..%2f_superusers/auth-anonymously", "", "", ""), 404, false},
		{"not an auth collection", post("/api/collections/carts/auth-anonymously", "", "", ""), 400, false},
		{"body over 32 MB", post("/api/collections/users/auth-anonymously", "application/json", `{"x":"`+big(33<<20)+`"}`, ""), 413, false},
		{"2 MB of headers", post("/api/collections/users/auth-anonymously", "", "", "Cookie: pb_auth="+big(2<<20)+"\r\n"), 431, true},
		{"bad percent-encoding", "POST /api/collections/users%ZZ/auth-anonymously HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, true},
		{"control char in path", "POST /api/collections/us\x01ers/auth-anonymously HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, true},
		{"body shorter than Content-Length", "POST /api/collections/users/auth-anonymously HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"email\":", 400, false},
	}

	for _, tc := range cases {
		status, body, err := rawExchange(s.addr, tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if status != tc.want {
			t.Errorf("%s: want %d, got %d %.200s", tc.name, tc.want, status, body)
			continue
		}
		if tc.netHTTP {
			continue
		}
		var shape struct {
			Status  int            `json:"status"`
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &shape); err != nil || shape.Status != status || shape.Message == "" || shape.Data == nil {
			t.Errorf("%s: %d is not PocketBase's error shape: %.200s", tc.name, status, body)
		}
	}

	// Still serving, nothing panicked.
	res := s.call(http.MethodPost, "/api/collections/users/auth-anonymously", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("sign-in after the hostile requests: %d %s", res.status, res.body)
	}
	if strings.Contains(strings.ToLower(s.log.String()), "panic") {
		t.Fatalf("the server log mentions a panic:\n%s", s.log.Tail(40))
	}
}

func post(path, contentType, body, extraHeaders string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", path)
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n%s\r\n%s", len(body), extraHeaders, body)
	return b.String()
}

// rawExchange writes raw to a new connection and reads one response.
func rawExchange(addr, raw string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// Write in the background: the server may answer (413, 431) and close
	// before it has read everything we send.
	go func() {
		_, _ = conn.Write([]byte(raw))
		_ = conn.(*net.TCPConn).CloseWrite() // a short body ends here
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for b.Len() < 1<<16 {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, b.String(), nil
}
