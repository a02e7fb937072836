package anonauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Bot protection for new guests: every anonymous sign-in that would create a
// guest must carry a solved challenge — a proof of work (pow.go) or a
// third-party captcha (captcha.go). It is checked after the rate limit, so a
// flood of bad solutions costs a bucket token each and never reaches a
// captcha provider faster than the limit allows.
//
// Not checked: superusers, and a request that already carries a guest
// session of the collection (it gets that session back; no row is created).

// The values of ChallengeConfig.Provider.
const (
	ChallengePow       = "pow"       // self-hosted proof of work, ALTCHA-compatible
	ChallengeTurnstile = "turnstile" // Cloudflare Turnstile
	ChallengeHCaptcha  = "hcaptcha"  // hCaptcha
	ChallengeReCaptcha = "recaptcha" // Google reCAPTCHA v2, or v3 with MinScore
)

// PowField is the name of the proof-of-work solution in a JSON or form body
// of auth-anonymously: the name of the hidden input the altcha widget adds to
// its form, so a form with the widget works as it is.
const PowField = "altcha"

// ChallengeHeader carries the solution (any provider) when a client would
// rather not put it in the body.
const ChallengeHeader = "X-Anonymous-Challenge"

// ChallengeConfig configures bot protection of anonymous sign-in (see
// Config.Challenge). Its zero value is "off".
type ChallengeConfig struct {
	// Provider turns the protection on: "pow" (a self-hosted proof-of-work
	// challenge, no third party), "turnstile", "hcaptcha" or "recaptcha".
	//
	// If empty (the default) sign-ins need no challenge.
	Provider string

	// MaxNumber is the proof-of-work difficulty (ALTCHA's maxnumber): the
	// client tries up to this many SHA-256 hashes, half of them on average.
	//
	// If zero it falls back to 50,000 (measured: docs/bot-protection.md).
	MaxNumber int

	// TTL is how long a proof-of-work challenge may be solved and used.
	//
	// If zero it falls back to 10 minutes.
	TTL time.Duration

	// MaxSpent bounds the memory of the replay ledger: at most this many
	// used proof-of-work solutions (~80 bytes each) are remembered until
	// their challenge expires. With the ledger full of live entries new
	// solutions are refused (503) instead of forgetting one.
	//
	// If zero it falls back to 100,000.
	MaxSpent int

	// Secret is the captcha provider's secret key (turnstile, hcaptcha,
	// recaptcha). Required for them; pass it from the environment.
	Secret string

	// SiteKey is the provider's public site key. The server never uses it;
	// it is handed to pages (anonymousChallenge()) to render the widget.
	SiteKey string

	// VerifyURL replaces the provider's siteverify endpoint (a test server,
	// a proxy, an enterprise endpoint).
	VerifyURL string

	// Timeout bounds one siteverify request.
	//
	// If zero it falls back to 5 seconds.
	Timeout time.Duration

	// FailOpen lets sign-ins through when the captcha provider cannot be
	// asked (network error, timeout, HTTP error, unreadable answer). By
	// default such a sign-in fails closed: 503 with Retry-After.
	FailOpen bool

	// MinScore is the lowest reCAPTCHA v3 score (0.0-1.0) accepted. Zero
	// means reCAPTCHA v2 (no score is checked).
	MinScore float64
}

func (c ChallengeConfig) withDefaults() ChallengeConfig {
	if c.MaxNumber <= 0 {
		c.MaxNumber = DefaultChallengeMaxNumber
	}
	if c.TTL <= 0 {
		c.TTL = DefaultChallengeTTL
	}
	if c.MaxSpent <= 0 {
		c.MaxSpent = DefaultChallengeMaxSpent
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultCaptchaTimeout
	}
	return c
}

// challengeState is the plugin's bot protection, nil when it is off.
type challengeState struct {
	config  ChallengeConfig
	ledger  *replayLedger   // pow only
	captcha captchaVerifier // captcha providers only
	field   string          // the body/form field of the solution
	started time.Time       // pow: challenges issued earlier are refused
	now     func() time.Time
}

func newChallengeState(c ChallengeConfig, now func() time.Time) (*challengeState, error) {
	s := &challengeState{config: c, now: now, started: now()}
	switch c.Provider {
	case "":
		return nil, nil
	case ChallengePow:
		s.field = PowField
		s.ledger = newReplayLedger(c.MaxSpent)
	case ChallengeTurnstile, ChallengeHCaptcha, ChallengeReCaptcha:
		provider := captchaProviders[c.Provider]
		verifier, err := newSiteverify(provider, c)
		if err != nil {
			return nil, err
		}
		s.field = provider.field
		s.captcha = verifier
	default:
		return nil, fmt.Errorf("unknown Config.Challenge.Provider %q (want pow, turnstile, hcaptcha or recaptcha)", c.Provider)
	}
	if c.MinScore < 0 || c.MinScore > 1 {
		return nil, fmt.Errorf("Config.Challenge.MinScore %v is not between 0 and 1", c.MinScore)
	}
	return s, nil
}

// ChallengeInfo describes the challenge a new guest must solve, for pages
// and clients that render the widget.
type ChallengeInfo struct {
	// Provider is ChallengeConfig.Provider.
	Provider string `json:"provider"`
	// Field is the body/form field the solution goes in.
	Field string `json:"field"`
	// URL is the challenge endpoint of the collection (pow only).
	URL string `json:"url,omitempty"`
	// WidgetURL is the altcha widget script served by the binary (pow only).
	WidgetURL string `json:"widgetUrl,omitempty"`
	// SiteKey is the captcha provider's public site key.
	SiteKey string `json:"siteKey,omitempty"`
}

// Challenge returns what a new guest of collection must solve, or nil when
// bot protection is off.
func (p *Plugin) Challenge(collection string) *ChallengeInfo {
	s := p.challenge
	if s == nil {
		return nil
	}
	if collection == "" {
		collection = DefaultCollection
	}
	info := &ChallengeInfo{Provider: s.config.Provider, Field: s.field, SiteKey: s.config.SiteKey}
	if s.config.Provider == ChallengePow {
		info.URL = challengeURL(collection)
		info.WidgetURL = widgetPath
		info.SiteKey = ""
	}
	return info
}

func challengeURL(collection string) string {
	return "/api/collections/" + url.PathEscape(collection) + "/anonymous-challenge"
}

// checkChallenge requires a solved challenge on a sign-in that creates a
// guest of collection (a no-op when bot protection is off).
func (p *Plugin) checkChallenge(e *core.RequestEvent, collection *core.Collection) error {
	s := p.challenge
	if s == nil {
		return nil
	}
	solution, err := s.solution(e)
	if err != nil {
		return err
	}
	if solution == "" {
		return errChallengeRequired(p.Challenge(collection.Name))
	}
	if s.captcha != nil {
		err = s.checkCaptcha(e, solution)
	} else {
		err = s.checkPow(collection, solution)
	}
	// Retry-After on every path (the HTTP endpoint, pb_hooks, pages).
	if ce, ok := err.(*ChallengeError); ok {
		e.Response.Header().Set("Retry-After", retryAfterSeconds(ce.RetryAfter))
	}
	return err
}

// solution reads the solution from the X-Anonymous-Challenge header or the
// provider's field of the JSON, form or multipart body.
func (s *challengeState) solution(e *core.RequestEvent) (string, error) {
	if h := strings.TrimSpace(e.Request.Header.Get(ChallengeHeader)); h != "" {
		return h, nil
	}
	info, err := e.RequestInfo()
	if err != nil {
		return "", router.NewBadRequestError("Failed to read the request body.", err)
	}
	switch v := info.Body[s.field].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case []string: // a repeated form field
		if len(v) > 0 {
			return strings.TrimSpace(v[0]), nil
		}
		return "", nil
	default:
		return "", router.NewBadRequestError("The challenge solution ("+s.field+") must be a string.", nil)
	}
}

func (s *challengeState) checkPow(collection *core.Collection, solution string) error {
	now := s.now()
	params, err := verifyPowPayload(challengeKey(collection.AuthToken.Secret), solution, now)
	switch {
	case errors.Is(err, errPowExpired):
		return errChallengeRejected("The challenge has expired. Fetch a new one from " + challengeURL(collection.Name) + " and solve it again.")
	case err != nil:
		// A challenge of another collection fails the signature (the key is
		// per collection); say so when the salt tells which it was.
		if p, perr := parsePowSalt(powSalt(solution)); perr == nil && p.Collection != "" && p.Collection != collection.Id {
			return errChallengeRejected("The challenge was issued for another collection.")
		}
		return errChallengeRejected(upperFirst(err.Error()) + ".")
	}

	if params.Collection != collection.Id {
		return errChallengeRejected("The challenge was issued for another collection.")
	}
	if params.Expires.IsZero() || params.Issued.IsZero() {
		return errChallengeRejected("The challenge was not issued by the anonymous-challenge endpoint.")
	}
	// The replay ledger is in memory: a solution used before a restart is
	// not in it any more, so every challenge issued before the start is
	// refused. Users mid-form solve one new challenge after a restart.
	if params.Issued.Before(s.started.Truncate(time.Second)) {
		return errChallengeRejected("The challenge was issued before the server restarted. Fetch a new one and solve it again.")
	}

	fresh, err := s.ledger.spend(params.Hash, params.Expires, now)
	if err != nil {
		return errChallengeBusy()
	}
	if !fresh {
		return errChallengeRejected("The challenge solution was already used. Fetch a new challenge for each sign-in.")
	}
	return nil
}

func (s *challengeState) checkCaptcha(e *core.RequestEvent, token string) error {
	err := s.captcha.verify(e.Request.Context(), token, e.RealIP())
	if err == nil {
		return nil
	}
	var rejection *captchaRejection
	if errors.As(err, &rejection) {
		return errChallengeRejected(rejection.message)
	}
	if s.config.FailOpen {
		e.App.Logger().Warn("anonauth: captcha provider unavailable, failing open", "provider", s.config.Provider, "error", err.Error())
		return nil
	}
	e.App.Logger().Error("anonauth: captcha provider unavailable, failing closed", "provider", s.config.Provider, "error", err.Error())
	return errCaptchaUnavailable()
}

// powSalt extracts the salt of a payload without verifying anything (for
// error messages only).
func powSalt(payload string) string {
	var p powPayload
	if raw, err := base64.StdEncoding.DecodeString(payload); err == nil {
		_ = json.Unmarshal(raw, &p)
	}
	return p.Salt
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// errLedgerFull: the replay ledger has no room for another live solution.
var errLedgerFull = errors.New("replay ledger full")

// ChallengeError is a refused sign-in challenge that tells the client when
// to retry (a 503 when the provider is down or the ledger is full). It is a
// *router.ApiError.
type ChallengeError struct {
	*router.ApiError
	RetryAfter time.Duration
}

// Unwrap lets errors.As find the embedded *router.ApiError.
func (e *ChallengeError) Unwrap() error { return e.ApiError }

func errChallengeRequired(info *ChallengeInfo) *router.ApiError {
	msg := "Challenge required: solve the anonymous sign-in challenge and send the solution in the " +
		strconv.Quote(info.Field) + " field or the " + ChallengeHeader + " header."
	err := router.NewBadRequestError(msg, nil)
	err.Data = map[string]any{"provider": info.Provider, "field": info.Field}
	if info.URL != "" {
		err.Data["challengeUrl"] = info.URL
	}
	if info.SiteKey != "" {
		err.Data["siteKey"] = info.SiteKey
	}
	return err
}

func errChallengeRejected(msg string) *router.ApiError {
	return router.NewBadRequestError(msg, nil)
}

func errCaptchaUnavailable() *ChallengeError {
	return &ChallengeError{
		ApiError:   router.NewApiError(http.StatusServiceUnavailable, "The captcha service could not be reached to check the sign-in. Try again in "+retryAfterSeconds(captchaRetryAfter)+" seconds.", nil),
		RetryAfter: captchaRetryAfter,
	}
}

func errChallengeBusy() *ChallengeError {
	return &ChallengeError{
		ApiError:   router.NewApiError(http.StatusServiceUnavailable, "Too many sign-in challenges are in use right now. Try again in a minute.", nil),
		RetryAfter: time.Minute,
	}
}

// handleChallenge is GET /api/collections/{collection}/anonymous-challenge:
// a new signed proof-of-work challenge (ALTCHA's JSON) for the collection.
func (p *Plugin) handleChallenge(e *core.RequestEvent) error {
	collection, err := p.enabledCollection(e.App, e.Request.PathValue("collection"))
	if err != nil {
		return err
	}
	s := p.challenge
	if s == nil {
		return e.NotFoundError("Anonymous sign-in needs no challenge: bot protection is off.", nil)
	}
	if s.config.Provider != ChallengePow {
		return e.NotFoundError("Anonymous sign-in uses "+s.config.Provider+", which has no challenge endpoint: render its widget with the site key and send the token in the "+strconv.Quote(s.field)+" field.", nil)
	}
	challenge, err := newPowChallenge(challengeKey(collection.AuthToken.Secret), collection.Id, s.config.MaxNumber, s.now(), s.config.TTL)
	if err != nil {
		return e.InternalServerError("Failed to create a challenge.", err)
	}
	// Each fetch must get a new challenge (one solution signs in once).
	e.Response.Header().Set("Cache-Control", "no-store")
	return e.JSON(http.StatusOK, challenge)
}
