package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/pocketbase/pocketbase/tools/security"
)

// The baseline is what an app does without PocketGuest (the way a
// PocketPages-style "guest" sign-in works on stock PocketBase): invent an
// email and a password, create the user through the records API, then sign
// in with auth-with-password. It is done as TWO client requests, exactly as
// the JS SDK would make them, and the pair is timed as one sign-in.
//
// Vegeta times one HTTP round trip per hit, so the pair is made by a
// RoundTripper: a hit on baselinePath becomes the two real requests to the
// server, and the hit's latency and status are those of the whole sign-in.

const baselinePath = "/__bench/baseline-signin"

type baselineTransport struct {
	next http.RoundTripper
}

func (t *baselineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != baselinePath {
		return t.next.RoundTrip(req)
	}

	email := "baseline-" + security.RandomStringWithAlphabet(15, "abcdefghijklmnopqrstuvwxyz0123456789") + "@example.com"
	password := security.RandomString(20)

	create := map[string]any{"email": email, "password": password, "passwordConfirm": password}
	resp, err := t.post(req, "/api/collections/users/records", create)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp, nil // the create's error is the sign-in's error
	}
	drain(resp)

	return t.post(req, "/api/collections/users/auth-with-password", map[string]any{"identity": email, "password": password})
}

func (t *baselineTransport) post(orig *http.Request, path string, body any) (*http.Response, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	u := *orig.URL
	u.Path = path
	req, err := http.NewRequestWithContext(orig.Context(), http.MethodPost, u.String(), bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	return resp, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
