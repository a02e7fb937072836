package e2e

import (
	"bufio"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSaveAccountWithEmailedCode: a guest orders, clicks "Email me a code"
// on the confirmation page, and follows the link of the mail the server
// really sent (over SMTP, to a capturing server): one click on Confirm and
// the guest is a full, verified account, same record, same orders.
func TestSaveAccountWithEmailedCode(t *testing.T) {
	s := requireEnv(t)
	sink := startSMTPSink(t)
	s.useSMTP(t, sink.port())

	p := newVisitor(t, s)
	p.addToCart("field-notebook")
	email := uniqueEmail("ada")
	orderPath := p.checkoutAsGuest("Ada Lovelace", email, "12 Analytical Row, London")
	guest := p.session().record
	if !guest.IsAnonymous {
		t.Fatalf("not a guest: %+v", guest)
	}

	// On the confirmation page, next to "Save your account".
	if p.count(`[data-testid="email-code"]`) != 1 {
		t.Fatalf("no \"Email me a code\" on %s: %s", orderPath, p.text("main"))
	}
	p.submit(`[data-testid="email-code"]`)
	if p.count(`[data-testid="code-confirm-form"]`) != 1 {
		t.Fatalf("after asking for a code (%s): %s", p.path(), p.text("main"))
	}

	msg := sink.waitFor(t, email)
	link := regexp.MustCompile(`href="([^"]*/save-by-code\?[^"]*)"`).FindStringSubmatch(msg.html)
	if link == nil {
		t.Fatalf("no one-click link in the mail: %s", msg.html)
	}
	target := html.UnescapeString(link[1])
	if !strings.HasPrefix(target, s.URL+"/save-by-code?") {
		t.Fatalf("link %q does not point at the shop", target)
	}

	// The link opens the form with the code filled in; nothing changes
	// until Confirm.
	p.open(strings.TrimPrefix(target, s.URL))
	if r, _ := s.mustRecord(t, "users", guest.ID); !r.IsAnonymous {
		t.Fatal("opening the link changed the account (a GET must not)")
	}
	p.submit(`[data-testid="code-confirm"]`)
	if msg := p.text(`[data-testid="flash"]`); !strings.Contains(msg, "account is saved") {
		t.Fatalf("confirm: flash %q, error %q on %s", msg, p.text(`[data-testid="error"]`), p.path())
	}

	after := p.session().record
	if after.ID != guest.ID || after.IsAnonymous || after.Email != email {
		t.Fatalf("cookie after the code: %+v, want the guest %s as %s", after, guest.ID, email)
	}
	var stored struct {
		record
		Verified bool `json:"verified"`
	}
	if status, err := s.api(http.MethodGet, "/api/collections/users/records/"+guest.ID, nil, &stored); err != nil || status != 200 {
		t.Fatalf("reading the account: %d %v", status, err)
	}
	if stored.IsAnonymous || !stored.Verified || stored.Email != email {
		t.Fatalf("stored account: %+v", stored)
	}
	if p.open(orderPath) != 200 || p.count(`[data-testid="order"]`) != 1 {
		t.Fatal("the order must still be the account's")
	}
}

// useSMTP points the server's mail at a local port for the test.
func (s *server) useSMTP(t *testing.T, port int) {
	t.Helper()
	status, err := s.api(http.MethodPatch, "/api/settings", map[string]any{
		"meta": map[string]any{"appURL": s.URL, "senderAddress": "shop@example.com", "senderName": "Demo shop"},
		"smtp": map[string]any{"enabled": true, "host": "127.0.0.1", "port": port},
	}, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("enabling SMTP: %d %v", status, err)
	}
	t.Cleanup(func() {
		s.api(http.MethodPatch, "/api/settings", map[string]any{"smtp": map[string]any{"enabled": false}}, nil)
	})
}

// smtpSink is a minimal SMTP server that keeps every message it receives.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []capturedMail
}

type capturedMail struct {
	to   []string
	html string
}

func startSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpSink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// serve speaks just enough SMTP for net/smtp (no STARTTLS, no AUTH).
func (s *smtpSink) serve(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(conn)
	reply := func(line string) { io.WriteString(conn, line+"\r\n") }
	reply("220 sink ESMTP")
	var to []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			reply("250 sink")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			to = append(to, strings.Trim(strings.TrimSpace(line)[len("RCPT TO:"):], "<> "))
			reply("250 OK")
		case cmd == "DATA":
			reply("354 end with .")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, capturedMail{to: to, html: htmlPart(data.String())})
			s.mu.Unlock()
			to = nil
			reply("250 OK")
		case cmd == "QUIT":
			reply("221 bye")
			return
		default: // MAIL FROM, RSET, NOOP
			reply("250 OK")
		}
	}
}

// waitFor returns the first message to address (the server sends it before
// answering the request, so it is normally there already).
func (s *smtpSink) waitFor(t *testing.T, address string) capturedMail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			for _, to := range m.to {
				if strings.EqualFold(to, address) {
					s.mu.Unlock()
					return m
				}
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s", address)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// htmlPart decodes the text/html part of a raw message ("" if none).
func htmlPart(raw string) string {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return ""
	}
	return findHTML(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func findHTML(contentType, encoding string, body io.Reader) string {
	mediaType, params, _ := mime.ParseMediaType(contentType)
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if h := findHTML(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); h != "" {
				return h
			}
		}
	}
	if mediaType != "text/html" {
		return ""
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, _ := io.ReadAll(body)
	return string(b)
}
