package e2e

import (
	"bufio"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpSink is a minimal SMTP server that keeps every message it receives,
// so tests can read the mails PocketBase sends (verification links, OTP
// codes) the way a user reads their inbox.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	cond *sync.Cond
	mail []string
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln}
	s.cond = sync.NewCond(&s.mu)
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

func (s *smtpSink) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	reply := func(line string) { _, _ = conn.Write([]byte(line + "\r\n")) }
	reply("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			reply("250 sink")
		case strings.HasPrefix(cmd, "DATA"):
			reply("354 go ahead")
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				msg.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.mail = append(s.mail, decodeQuotedPrintable(msg.String()))
			s.cond.Broadcast()
			s.mu.Unlock()
			reply("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			reply("221 bye")
			return
		default: // MAIL, RCPT, RSET, NOOP
			reply("250 ok")
		}
	}
}

// waitMail returns the first message (after the first `after` ones) that
// contains want. The bound only keeps a broken server from hanging the test.
func (s *smtpSink) waitMail(t *testing.T, after int, want string) string {
	t.Helper()
	deadline := time.AfterFunc(60*time.Second, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for _, m := range s.mail[min(after, len(s.mail)):] {
			if strings.Contains(m, want) {
				return m
			}
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("no mail containing %q (got %d mails):\n%s", want, len(s.mail), strings.Join(s.mail, "\n-----\n"))
		}
		s.cond.Wait()
	}
}

// decodeQuotedPrintable undoes the mail's transfer encoding (soft line
// breaks, =3D), so tests read the text a mail client shows.
func decodeQuotedPrintable(raw string) string {
	decoded, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(raw)))
	if err != nil {
		return raw
	}
	return string(decoded)
}

func (s *smtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mail)
}

// useSMTPSink points the server's mail settings at the sink.
func (s *server) useSMTPSink(t *testing.T, sink *smtpSink) {
	t.Helper()
	status, err := s.api(http.MethodPatch, "/api/settings", map[string]any{
		"smtp": map[string]any{"enabled": true, "host": "127.0.0.1", "port": sink.port(), "tls": false},
	}, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("SMTP settings: %d %v", status, err)
	}
}
