package anonauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The third-party captcha providers. Cloudflare Turnstile, hCaptcha and
// Google reCAPTCHA share one server protocol, "siteverify": POST the secret,
// the client's response token and (optionally) its IP as a form, get back
// {"success": bool, "error-codes": [...]} (reCAPTCHA v3 adds "score").
// So one verifier covers all three; a provider is a name, an endpoint and
// the form field its widget writes the token into.

// captchaVerifier checks a captcha response token.
type captchaVerifier interface {
	// verify returns nil if token is accepted, a *captchaRejection if the
	// provider refused it, or another error if the provider could not be
	// asked (network, timeout, bad answer).
	verify(ctx context.Context, token, remoteIP string) error
}

// captchaProvider describes one siteverify service.
type captchaProvider struct {
	name      string // as in Config.Challenge.Provider
	title     string // for messages
	verifyURL string // the real service's siteverify endpoint
	field     string // the form field the provider's widget fills in
}

var captchaProviders = map[string]captchaProvider{
	ChallengeTurnstile: {
		name:      ChallengeTurnstile,
		title:     "Turnstile",
		verifyURL: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
		field:     "cf-turnstile-response",
	},
	ChallengeHCaptcha: {
		name:      ChallengeHCaptcha,
		title:     "hCaptcha",
		verifyURL: "https://api.hcaptcha.com/siteverify",
		field:     "h-captcha-response",
	},
	ChallengeReCaptcha: {
		name:      ChallengeReCaptcha,
		title:     "reCAPTCHA",
		verifyURL: "https://www.google.com/recaptcha/api/siteverify",
		field:     "g-recaptcha-response",
	},
}

// siteverify is the captchaVerifier of every provider.
type siteverify struct {
	provider captchaProvider
	url      string
	secret   string
	minScore float64 // reCAPTCHA v3: the lowest accepted score; 0 = no check (v2)
	client   *http.Client
}

// captchaRejection is the provider's "no": a bad, expired or reused token.
type captchaRejection struct {
	message string
}

func (r *captchaRejection) Error() string { return r.message }

// siteverifyResponse is the common part of the three providers' answers.
type siteverifyResponse struct {
	Success    bool     `json:"success"`
	ErrorCodes []string `json:"error-codes"`
	Score      *float64 `json:"score"` // reCAPTCHA v3 only
}

// maxSiteverifyResponse bounds what we read from the provider.
const maxSiteverifyResponse = 64 << 10

func (s *siteverify) verify(ctx context.Context, token, remoteIP string) error {
	form := url.Values{"secret": {s.secret}, "response": {token}}
	if remoteIP != "" {
		form.Set("remoteip", remoteIP)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	res, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s siteverify: %w", s.provider.title, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s siteverify: HTTP %d", s.provider.title, res.StatusCode)
	}
	var out siteverifyResponse
	if err := json.NewDecoder(io.LimitReader(res.Body, maxSiteverifyResponse)).Decode(&out); err != nil {
		return fmt.Errorf("%s siteverify: unreadable answer: %w", s.provider.title, err)
	}

	if !out.Success {
		msg := "The " + s.provider.title + " check failed"
		if len(out.ErrorCodes) > 0 {
			msg += " (" + strings.Join(out.ErrorCodes, ", ") + ")"
		}
		return &captchaRejection{message: msg + ". Complete the " + s.provider.title + " check again."}
	}
	if s.minScore > 0 {
		if out.Score == nil {
			return &captchaRejection{message: "The " + s.provider.title + " answer has no score: the site key is not a v3 key, or set the minimum score to 0 for v2."}
		}
		if *out.Score < s.minScore {
			return &captchaRejection{message: "The " + s.provider.title + " score " + strconv.FormatFloat(*out.Score, 'f', -1, 64) +
				" is below the required " + strconv.FormatFloat(s.minScore, 'f', -1, 64) + "."}
		}
	}
	return nil
}

func newSiteverify(provider captchaProvider, c ChallengeConfig) (*siteverify, error) {
	if c.Secret == "" {
		return nil, errors.New("Config.Challenge.Secret (the " + provider.title + " secret key) is required for the " + provider.name + " provider")
	}
	endpoint := c.VerifyURL
	if endpoint == "" {
		endpoint = provider.verifyURL
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("Config.Challenge.VerifyURL %q is not an http(s) URL", endpoint)
	}
	minScore := 0.0
	if provider.name == ChallengeReCaptcha {
		minScore = c.MinScore
	}
	return &siteverify{
		provider: provider,
		url:      endpoint,
		secret:   c.Secret,
		minScore: minScore,
		client:   &http.Client{Timeout: c.Timeout},
	}, nil
}

// captchaRetryAfter is the Retry-After of a 503 when the provider could not
// be asked: long enough not to hammer a provider that is down.
const captchaRetryAfter = 10 * time.Second
