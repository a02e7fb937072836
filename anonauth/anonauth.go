// Package anonauth gives a PocketBase app first-class anonymous ("guest")
// accounts: real auth records, created without a sign-up form, that can later
// be upgraded in place or merged into an existing account.
//
// It is a plugin in the style of PocketBase's own (plugins/jsvm,
// plugins/migratecmd): register it once and everything else (schema, routes,
// the pb_auth cookie session, rate limits) is wired for you.
//
// Example:
//
//	app := pocketbase.New()
//
//	guests := anonauth.MustRegister(app, anonauth.Config{
//		Collections: []string{"users"},   // the default
//		EmailDomain: "guests.example.com",
//	})
//
//	// From your own Go routes or hooks:
//	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
//		se.Router.POST("/api/my-guest", func(e *core.RequestEvent) error {
//			auth, err := guests.SignIn(e, anonauth.SignInOptions{})
//			if err != nil {
//				return err
//			}
//			return e.JSON(200, auth)
//		})
//		return se.Next()
//	})
//
// What it registers:
//
//   - POST /api/collections/{collection}/auth-anonymously: a new guest (or the
//     current guest session) as {token, record}, plus a pb_auth cookie.
//   - An isAnonymous bool field on every configured collection, with rules that
//     stop clients from setting or flipping it through the records API.
//   - A middleware that authenticates requests from the pb_auth cookie (the
//     format the official JS SDK reads and writes; Config.CookieName), rejects
//     cross-site unsafe requests that are authenticated only by that cookie,
//     and refuses a request carrying two of them (401). Every request that
//     sets or clears the cookie must be same-origin too (login CSRF).
//   - 503 with Retry-After, not 400, when the database cannot be written
//     (disk full, read-only, locked): IsStorageFault.
//   - A per-IP limit on anonymous sign-ins.
//   - A lastSeen field (last activity, written at most once per guest per
//     Config.ActivityInterval), a cron job that deletes guests inactive for
//     Config.MaxAge (also `anonymous cleanup` via Plugin.Command), the
//     anonymousEvents collection and the anonymousStats view (superusers).
//   - Hooks that never let a mail go to a guest's placeholder address.
//   - With Config.Challenge on: GET /api/collections/{collection}/anonymous-challenge
//     (a proof-of-work challenge) and the challenge check of every new guest.
//
// Guest records never hash a password: they get a password hash that can never
// match, so a sign-in costs well under a millisecond of CPU and the record can
// never log in with a password.
package anonauth

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// FieldIsAnonymous is the bool field that marks a guest record.
const FieldIsAnonymous = "isAnonymous"

// Defaults of Config: a zero field falls back to the value here. The
// pocketguest binary's flags take their defaults from these too, so the
// zero Config and a binary started without flags behave the same.
const (
	// DefaultCollection is the auth collection used when none is configured
	// or none is asked for.
	DefaultCollection = "users"

	DefaultEmailDomain      = "example.com"
	DefaultNameField        = "name"
	DefaultTokenDuration    = 7 * 24 * time.Hour
	DefaultRateLimit        = 30 // sign-ins per client per minute
	DefaultMaxTrackedIPs    = 100_000
	DefaultMaxAge           = 30 * 24 * time.Hour
	DefaultActivityInterval = 5 * time.Minute
	DefaultCleanupSchedule  = "@hourly"
	DefaultCleanupBatchSize = 50

	// DefaultSessionRenewAfter: a cookie session is renewed in the second
	// half of its token's lifetime (sliding.go).
	DefaultSessionRenewAfter = 0.5
	// DefaultEmptyMaxAge: guests that own nothing go after a day without
	// activity (emptyguests.go).
	DefaultEmptyMaxAge = 24 * time.Hour

	// DefaultMaxMergeRecords: about 1 s of write lock on a small server
	// (2,000 rows took 0.22 s).
	DefaultMaxMergeRecords = 10_000

	// Config.Challenge (challenge.go). The difficulty's cost in a browser
	// is measured in docs/bot-protection.md.
	DefaultChallengeMaxNumber = 50_000
	DefaultChallengeTTL       = 10 * time.Minute
	DefaultChallengeMaxSpent  = 100_000
	DefaultCaptchaTimeout     = 5 * time.Second
)

// storeKey is where Register keeps the plugin in app.Store(), so that other
// packages (the jsvm globals) can find it without a package-level variable.
const storeKey = "pocketguest.anonauth"

// Config defines the options of the anonauth plugin. Its zero value is a
// working setup: guests in "users", 30 sign-ins per IP per minute, 7-day
// guest tokens.
type Config struct {
	// Collections lists the auth collections that allow anonymous sign-in.
	//
	// If empty it falls back to []string{DefaultCollection} ("users").
	Collections []string

	// EmailDomain is the domain of the generated placeholder emails
	// ("anonymous-<random>@<EmailDomain>").
	//
	// If empty it falls back to DefaultEmailDomain, "example.com" (as
	// PocketPages does), a reserved domain that can never receive mail.
	EmailDomain string

	// GenerateEmail, if set, replaces the default email generator (and
	// EmailDomain is ignored). It must return a valid, probably-unique address;
	// a collision is retried with a new call.
	GenerateEmail func(collection *core.Collection) (string, error)

	// GenerateName, if set, fills NameField of every new guest (for example
	// "Guest 4821"). Nothing is set when it is nil or the collection has no
	// such field.
	GenerateName func(collection *core.Collection) string

	// NameField is the field GenerateName writes to.
	//
	// If empty it falls back to DefaultNameField ("name").
	NameField string

	// SessionRenewAfter makes cookie sessions slide: a request that comes
	// with the pb_auth cookie after this share of its token's lifetime has
	// passed gets a fresh token in the cookie (same attributes), so a guest
	// or user who keeps coming back is never signed out (see sliding.go).
	// SDK clients, which send the Authorization header, refresh with
	// auth-refresh as usual.
	//
	// If zero it falls back to DefaultSessionRenewAfter (0.5: renew in the
	// second half of the lifetime); a negative value disables renewal. It
	// must be below 1.
	SessionRenewAfter float64

	// TokenDuration is the lifetime of a guest's auth token (and cookie),
	// independent of the collection's own auth token duration. A refresh
	// (auth-refresh) of a live guest session extends it by the same amount.
	//
	// If zero it falls back to DefaultTokenDuration (7 days).
	TokenDuration time.Duration

	// RateLimit is how many anonymous sign-ins one client IP may make per
	// minute. Superusers are exempt. Over the limit the HTTP endpoint answers
	// 429 with Retry-After and the Go/JS APIs return the same error.
	//
	// If zero it falls back to DefaultRateLimit (30); a negative value
	// disables the limit.
	RateLimit int

	// MaxTrackedIPs bounds the memory of the rate limiter: at most this many
	// client IPs (IPv6: /64 networks) are tracked at once: 55-70 bytes each,
	// measured by TestLimiterMemoryIsBounded (7 MB at the default).
	//
	// If zero it falls back to DefaultMaxTrackedIPs (100,000).
	MaxTrackedIPs int

	// MaxAge is how long a guest may stay inactive (no sign-in, authenticated
	// request or token refresh) before the cleanup job deletes it.
	//
	// If zero it falls back to DefaultMaxAge (30 days); a negative value
	// disables the cleanup.
	MaxAge time.Duration

	// EmptyMaxAge is how long a guest that owns nothing (no record in any
	// collection has a relation to it: a bot, a one-page visit) may stay
	// inactive before the cleanup job deletes it, sooner than MaxAge.
	// Guests with data keep MaxAge. See emptyguests.go.
	//
	// If zero it falls back to DefaultEmptyMaxAge (24 hours); a negative
	// value disables it.
	EmptyMaxAge time.Duration

	// ActivityInterval is how often a guest's last activity (the lastSeen
	// field) is written to the database: activity is noted in memory and
	// flushed at most once per guest per interval.
	//
	// If zero it falls back to DefaultActivityInterval (5 minutes).
	ActivityInterval time.Duration

	// CleanupSchedule is the cron expression (UTC, minute resolution) of the
	// stale guest cleanup job, which runs under `serve` only.
	//
	// If empty it falls back to DefaultCleanupSchedule ("@hourly").
	CleanupSchedule string

	// CleanupBatchSize is how many guests one cleanup transaction deletes.
	// Small batches keep the write lock short, so sign-ins never stall.
	//
	// If zero it falls back to DefaultCleanupBatchSize (50).
	CleanupBatchSize int

	// CookieName is the name of the session cookie.
	//
	// If empty it falls back to "pb_auth", the name the official JS SDK's
	// authStore.loadFromCookie(cookie, key = "pb_auth") reads by default.
	// Behind HTTPS, "__Host-pb_auth" stops a sibling subdomain (or a
	// plain-HTTP man in the middle) from planting a session cookie: browsers
	// only accept a __Host- cookie that is Secure, has Path=/ and no Domain,
	// set over HTTPS. A __Host- or __Secure- name is always sent with Secure;
	// browsers drop it over plain HTTP (except on localhost). Apps reading
	// the cookie with the SDK pass the same name as key.
	CookieName string

	// TrustedOrigins lists extra origins (e.g. "https://shop.example.com")
	// allowed to make unsafe (POST, PUT, PATCH, DELETE) browser requests that
	// are authenticated only by the session cookie or that set or clear it
	// (sign-in, upgrade, delete, sign-out; see Plugin.CheckSameOrigin). The
	// request's own origin is always allowed.
	TrustedOrigins []string

	// OnLink, if set, runs when a guest is merged into an existing account
	// (a sign-in with password, OTP or OAuth2 while carrying the guest
	// session, or Plugin.Link), inside the merge transaction and before the
	// default action (see LinkEvent): move or merge the guest's data through
	// e.App, refuse it or filter it. It does not call e.Next() (the plugin
	// does when it returns nil). Returning ErrSkipMerge keeps the guest
	// apart and lets the sign-in go on; any other error rolls the merge back
	// and fails the sign-in. Otherwise equivalent to binding a handler to
	// Plugin.OnLink() (the JS onAnonymousLink hook binds there too).
	OnLink func(e *LinkEvent) error

	// DisableDelete disables the delete-anonymous endpoint (404) and
	// DeleteAnonymous, and keeps the guest record after a merge (as
	// better-auth's disableDeleteAnonymousUser). Cleanup of old guests is
	// then up to the app.
	DisableDelete bool

	// DisableRelationTransfer turns off the default action of a merge that
	// re-points every relation field (in any collection) referencing the
	// guest to the account. OnLink handlers can still set
	// e.TransferRelations per merge. With it off and deletion on, the
	// guest's relations follow PocketBase's delete rules (cascade or unset).
	DisableRelationTransfer bool

	// MaxMergeRecords caps how many records one merge may re-point to the
	// account. A merge holds SQLite's only write lock for its whole length
	// (every other write of the app waits), and a guest can create rows
	// cheaply (e.g. 100,000 through /api/batch, ~8 s of lock): a merge that
	// would move more fails with a 409 (errors.Is ErrMergeTooLarge) that
	// tells the user to sign out of the guest session to sign in without
	// merging it, and rolls back, having held the lock for at most this
	// many rows. OnLink handlers can skip relations (LinkEvent.SkipRelations)
	// or the whole transfer to stay under it.
	//
	// If zero it falls back to DefaultMaxMergeRecords (10,000); a negative
	// value removes the cap.
	MaxMergeRecords int

	// Challenge turns on bot protection: every sign-in that creates a guest
	// must carry a solved challenge, a self-hosted proof of work ("pow",
	// ALTCHA-compatible) or a captcha (Turnstile, hCaptcha, reCAPTCHA).
	// Superusers are exempt; the rate limit still applies.
	//
	// Its zero value is off.
	Challenge ChallengeConfig

	// DisableFastPath turns off the guest-creation fast path (fastpath.go):
	// PocketBase's check that a new auth record's id is unused in the other
	// auth collections then lists those collections with a database query
	// on every guest instead of reading PocketBase's collection cache.
	// Hooks fire the same either way; the fast path is ~1.5-2× faster.
	DisableFastPath bool

	// Clock, if set, replaces the wall clock for everything time-based the
	// plugin decides itself: guest token expiry and sliding renewal, last
	// activity, the rate limits and proof-of-work challenges (issue time,
	// expiry, replay ledger). Leave it nil in production (PocketBase
	// checks token expiry against the wall clock anyway); tests and
	// simulations set it so that no result depends on how fast the machine
	// runs them.
	Clock func() time.Time
}

// Plugin is a registered anonauth instance. It is safe for concurrent use.
type Plugin struct {
	app         core.App
	config      Config
	collections map[string]bool             // enabled collection names
	limiter     *ipLimiter                  // nil when rate limiting is disabled
	otpRequests *ipLimiter                  // upgrade codes per guest (upgrade_otp.go)
	otpAttempts *ipLimiter                  // upgrade code attempts per account and IP (upgrade_otp.go)
	onLink      *hook.Hook[*LinkEvent]      // guest → account merges (link.go)
	activity    *activityTracker            // guests' last activity (lifecycle.go)
	cleaning    sync.Mutex                  // one cleanup run at a time (cleanup.go)
	csrf        *http.CrossOriginProtection // same-origin policy for unsafe requests (cookie.go)
	commandErr  atomic.Value                // error of the last CLI command (command.go)
	now         func() time.Time            // the clock of tokens, sessions and activity (tests replace it)
	challenge   *challengeState             // bot protection, nil when off (challenge.go)
}

// MustRegister registers the anonauth plugin in app and panics on error.
func MustRegister(app core.App, config Config) *Plugin {
	p, err := Register(app, config)
	if err != nil {
		panic(err)
	}
	return p
}

// Register registers the anonauth plugin in app.
//
// It binds the schema check (as a migration and, for collections created
// later, on serve), the cookie middleware, the HTTP routes and the auth
// response hook. Registering twice on the same app is an error.
func Register(app core.App, config Config) (*Plugin, error) {
	if app.Store().Has(storeKey) {
		return nil, errors.New("anonauth: already registered for this app")
	}

	p := &Plugin{app: app, config: config.withDefaults(), now: time.Now}
	if config.Clock != nil {
		p.now = config.Clock
	}
	if p.config.SessionRenewAfter >= 1 {
		return nil, fmt.Errorf("anonauth: Config.SessionRenewAfter must be below 1 (a share of the token lifetime), got %v", p.config.SessionRenewAfter)
	}

	p.collections = make(map[string]bool, len(p.config.Collections))
	for _, name := range p.config.Collections {
		if name == "" {
			return nil, errors.New("anonauth: empty collection name in Config.Collections")
		}
		p.collections[name] = true
	}

	if err := validCookieName(p.config.CookieName); err != nil {
		return nil, fmt.Errorf("anonauth: Config.CookieName: %w", err)
	}
	p.otpRequests = newIPLimiter(otpRequestsPerWindow, otpRequestWindow, p.config.MaxTrackedIPs)
	p.otpAttempts = newIPLimiter(otpAttemptsPerWindow, otpAttemptWindow, p.config.MaxTrackedIPs)

	if p.config.RateLimit > 0 {
		p.limiter = newIPLimiter(p.config.RateLimit, time.Minute, p.config.MaxTrackedIPs)
	}
	for _, l := range []*ipLimiter{p.limiter, p.otpRequests, p.otpAttempts} {
		if l != nil && config.Clock != nil {
			l.now = config.Clock
		}
	}

	challenge, err := newChallengeState(p.config.Challenge, p.now)
	if err != nil {
		return nil, fmt.Errorf("anonauth: %w", err)
	}
	p.challenge = challenge

	if err := p.registerSchema(); err != nil {
		return nil, fmt.Errorf("anonauth: %w", err)
	}
	if err := p.registerCookieSession(); err != nil {
		return nil, fmt.Errorf("anonauth: %w", err)
	}
	p.registerAuthResponseHook()
	p.registerLink()
	p.registerOAuth2()
	p.registerRoutes()
	p.registerFastPath()
	p.registerRelationGuard() // relguard.go: no record written pointing at a deleted guest
	p.registerActivity()
	p.registerSlidingSession()
	if err := p.registerCleanup(); err != nil {
		return nil, fmt.Errorf("anonauth: %w", err)
	}
	p.registerEmailSafety()
	p.registerOwnerIndexes() // emptyguests.go

	app.Store().Set(storeKey, p)

	return p, nil
}

// FromApp returns the plugin registered on app, or nil if there is none.
func FromApp(app core.App) *Plugin {
	p, _ := app.Store().Get(storeKey).(*Plugin)
	return p
}

// Config returns the effective configuration (defaults applied).
func (p *Plugin) Config() Config {
	return p.config
}

// IsEnabled reports whether anonymous sign-in is enabled for the named
// collection.
func (p *Plugin) IsEnabled(collection string) bool {
	return p.collections[collection]
}

// IsAnonymous reports whether record is a guest record.
func IsAnonymous(record *core.Record) bool {
	return record != nil && record.GetBool(FieldIsAnonymous)
}

func (c Config) withDefaults() Config {
	if len(c.Collections) == 0 {
		c.Collections = []string{DefaultCollection}
	}
	if c.EmailDomain == "" {
		c.EmailDomain = DefaultEmailDomain
	}
	if c.NameField == "" {
		c.NameField = DefaultNameField
	}
	if c.SessionRenewAfter == 0 {
		c.SessionRenewAfter = DefaultSessionRenewAfter
	}
	if c.TokenDuration <= 0 {
		c.TokenDuration = DefaultTokenDuration
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.MaxTrackedIPs <= 0 {
		c.MaxTrackedIPs = DefaultMaxTrackedIPs
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.EmptyMaxAge == 0 {
		c.EmptyMaxAge = DefaultEmptyMaxAge
	}
	if c.ActivityInterval <= 0 {
		c.ActivityInterval = DefaultActivityInterval
	}
	if c.CleanupSchedule == "" {
		c.CleanupSchedule = DefaultCleanupSchedule
	}
	if c.CleanupBatchSize <= 0 {
		c.CleanupBatchSize = DefaultCleanupBatchSize
	}
	if c.MaxMergeRecords == 0 {
		c.MaxMergeRecords = DefaultMaxMergeRecords
	}
	if c.CookieName == "" {
		c.CookieName = CookieName
	}
	c.Challenge = c.Challenge.withDefaults()
	return c
}
