// Command pocketguest is PocketBase with first-class anonymous (guest)
// accounts: PocketBase + the JS runtime (pb_hooks, pb_migrations, templates/)
// + migratecmd + anonauth, configured here and nowhere else.
//
// Every option is a flag, and every flag can also be set through an
// environment variable (POCKETGUEST_<NAME>, shown in --help), so a deployment
// can be configured without recompiling. Run `pocketguest serve --help`.
package main

import (
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/osutils"

	"github.com/pocketguest/pocketguest/anonauth"
	"github.com/pocketguest/pocketguest/internal/stmtcache"
	"github.com/pocketguest/pocketguest/jsvm"
	"github.com/pocketguest/pocketguest/pages"
	"github.com/pocketguest/pocketguest/replicate"
)

// pocketBaseHooksPool is the --hooksPool default of PocketBase's own binary
// (examples/base); pbjsvm.Config's zero value means no pool at all.
const pocketBaseHooksPool = 15

func main() {
	app, guests := newApp(os.Args[1:])
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
	// PocketBase exits 0 even when a command failed (it prints the error);
	// a failed `anonymous cleanup` must fail the operator's script.
	if guests.CommandError() != nil {
		os.Exit(1)
	}
}

// newApp builds the app from the command line: flags (with their
// POCKETGUEST_* environment forms) → the plugins' Config. Every default is
// the plugin's own (anonauth.DefaultX, pages.DefaultX), so a flagless binary
// behaves like the zero Config; main_test.go checks that and the table in
// docs/configuration.md.
func newApp(args []string) (*pocketbase.PocketBase, *anonauth.Plugin) {
	// Dev mode (PocketBase's SQL/log output, and error details with source
	// lines and stacks on template error pages) only by explicit choice:
	// --dev or POCKETGUEST_DEV=true. pocketbase.New() would switch it on by
	// itself for a binary under the temp dir or the Go build cache, which is
	// where many deployments and CI builds happen to run from.
	//
	// The database is opened at bootstrap, after the flags are parsed, so
	// DBConnect reads --dbStmtCache then.
	var stmtCacheSize *int
	app := pocketbase.NewWithConfig(pocketbase.Config{
		DefaultDev: envBool("DEV", false),
		DBConnect: func(dbPath string) (*dbx.DB, error) {
			return stmtcache.DBConnect(stmtcache.Config{Size: disabledIfZero(*stmtCacheSize)})(dbPath)
		},
	})
	flags := app.RootCmd.PersistentFlags()
	flags.Lookup("dev").Usage = "dev mode: PocketBase's logs and SQL on the console, and error details (source lines, stack) on template error pages; off unless given (env POCKETGUEST_DEV)"

	// Database: prepared statements kept per SQLite connection.
	stmtCacheSize = flags.Int("dbStmtCache", envInt("DB_STMT_CACHE", stmtcache.DefaultSize), "prepared SQL statements cached per database connection; 0 disables the cache")

	// `pocketguest --version`: cobra adds the flag; print our lines as they are.
	app.RootCmd.Version = version()
	app.RootCmd.SetVersionTemplate("{{.Version}}")

	// PocketBase's usual JS runtime flags (same names as its own binary).
	hooksDir := flags.String("hooksDir", env("HOOKS_DIR", ""), "the directory with the JS app hooks (default pb_data/../pb_hooks)")
	hooksWatch := flags.Bool("hooksWatch", envBool("HOOKS_WATCH", true), "auto restart the app on pb_hooks file change; it has no effect on Windows")
	hooksPool := flags.Int("hooksPool", envInt("HOOKS_POOL", pocketBaseHooksPool), "the total prewarm goja.Runtime instances for the JS app hooks execution")
	migrationsDir := flags.String("migrationsDir", env("MIGRATIONS_DIR", ""), "the directory with the user defined migrations (default pb_data/../pb_migrations)")
	templatesDir := flags.String("templatesDir", env("TEMPLATES_DIR", ""), "the directory with the server-side EJS templates (default pb_data/../templates)")
	templatesPool := flags.Int("templatesPool", envInt("TEMPLATES_POOL", pages.DefaultPoolSize), "page VMs kept for reuse by template renders (more concurrent renders build a one-off VM)")
	renderTimeout := flags.Duration("renderTimeout", envDuration("RENDER_TIMEOUT", pages.DefaultRenderTimeout), "JS execution time limit of one template render; 0 disables it")
	automigrate := flags.Bool("automigrate", envBool("AUTOMIGRATE", osutils.IsProbablyGoRun()), "enable/disable auto migrations (on by default under go run)")

	// Anonymous accounts.
	collections := flags.StringSlice("anonCollections", envList("ANON_COLLECTIONS", []string{anonauth.DefaultCollection}), "auth collections that allow anonymous sign-in")
	emailDomain := flags.String("anonEmailDomain", env("ANON_EMAIL_DOMAIN", anonauth.DefaultEmailDomain), "domain of generated guest emails (anonymous-<random>@<domain>)")
	tokenDuration := flags.Duration("anonTokenDuration", envDuration("ANON_TOKEN_DURATION", anonauth.DefaultTokenDuration), "lifetime of a guest's auth token and cookie")
	rateLimit := flags.Int("anonRateLimit", envInt("ANON_RATE_LIMIT", anonauth.DefaultRateLimit), "anonymous sign-ins per client IP per minute; 0 disables the limit")
	cookieName := flags.String("anonCookieName", env("ANON_COOKIE_NAME", anonauth.CookieName), "name of the session cookie; __Host-pb_auth behind HTTPS stops sibling subdomains from planting one")
	trustedOrigins := flags.StringSlice("anonTrustedOrigins", envList("ANON_TRUSTED_ORIGINS", nil), "extra origins allowed to make cookie-authenticated unsafe requests and requests that set the session cookie")
	maxAge := flags.Duration("anonMaxAge", envDuration("ANON_MAX_AGE", anonauth.DefaultMaxAge), "delete guests inactive for longer than this (cron job); 0 disables the cleanup")
	activityInterval := flags.Duration("anonActivityInterval", envDuration("ANON_ACTIVITY_INTERVAL", anonauth.DefaultActivityInterval), "how often a guest's last activity (lastSeen) is written, at most")
	cleanupSchedule := flags.String("anonCleanupSchedule", env("ANON_CLEANUP_SCHEDULE", anonauth.DefaultCleanupSchedule), "cron expression (UTC) of the stale guest cleanup")
	cleanupBatch := flags.Int("anonCleanupBatch", envInt("ANON_CLEANUP_BATCH", anonauth.DefaultCleanupBatchSize), "guests deleted per cleanup transaction")
	maxMerge := flags.Int("anonMaxMergeRecords", envInt("ANON_MAX_MERGE_RECORDS", anonauth.DefaultMaxMergeRecords), "records one merge of a guest into an account may move (a larger merge is refused with 409); 0 removes the cap")
	// Keeping guests (docs/keeping-guests.md): sliding cookie sessions and the early cleanup of empty guests.
	sessionRenewAfter := flags.Float64("anonSessionRenewAfter", envFloat("ANON_SESSION_RENEW_AFTER", anonauth.DefaultSessionRenewAfter), "renew a cookie session's token once this share of its lifetime has passed (0 < x < 1); 0 disables renewal")
	emptyMaxAge := flags.Duration("anonEmptyMaxAge", envDuration("ANON_EMPTY_MAX_AGE", anonauth.DefaultEmptyMaxAge), "delete guests that own nothing (no record points at them) inactive for longer than this; 0 disables it")

	// Continuous replication of pb_data (Litestream) and restore on start.
	replicaURL := flags.String("replicate", env("REPLICATE", ""), "replicate data.db to file:///dir or s3://bucket/path?endpoint=...&region=... (S3 credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	replicaInterval := flags.Duration("replicateSyncInterval", envDuration("REPLICATE_SYNC_INTERVAL", replicate.DefaultSyncInterval), "how often new transactions are read from the WAL and uploaded to the replica")
	replicaAux := flags.Bool("replicateAuxiliary", envBool("REPLICATE_AUXILIARY", false), "also replicate (and restore) auxiliary.db, the logs database")
	restoreIfMissing := flags.Bool("restoreIfMissing", envBool("RESTORE_IF_MISSING", false), "restore data.db from the --replicate replica when pb_data has none; an empty or unreadable replica fails the start")

	// Bot protection of new guests (docs/bot-protection.md). The captcha
	// secret is read from the environment only, so it never shows in `ps`.
	challenge := flags.String("anonChallenge", env("ANON_CHALLENGE", ""), "bot protection of anonymous sign-in: pow, turnstile, hcaptcha or recaptcha (default off)")
	challengeDifficulty := flags.Int("anonChallengeDifficulty", envInt("ANON_CHALLENGE_DIFFICULTY", anonauth.DefaultChallengeMaxNumber), "pow: ALTCHA maxnumber, the most SHA-256 hashes a client may need (half on average)")
	challengeTTL := flags.Duration("anonChallengeTTL", envDuration("ANON_CHALLENGE_TTL", anonauth.DefaultChallengeTTL), "pow: how long a challenge may be solved and used")
	captchaSiteKey := flags.String("anonCaptchaSiteKey", env("ANON_CAPTCHA_SITE_KEY", ""), "turnstile/hcaptcha/recaptcha: the public site key (the secret key: env POCKETGUEST_ANON_CAPTCHA_SECRET)")
	captchaVerifyURL := flags.String("anonCaptchaVerifyURL", env("ANON_CAPTCHA_VERIFY_URL", ""), "replaces the captcha provider's siteverify URL")
	captchaTimeout := flags.Duration("anonCaptchaTimeout", envDuration("ANON_CAPTCHA_TIMEOUT", anonauth.DefaultCaptchaTimeout), "time limit of one siteverify request")
	captchaFailOpen := flags.Bool("anonCaptchaFailOpen", envBool("ANON_CAPTCHA_FAIL_OPEN", false), "let sign-ins through when the captcha provider cannot be reached (default: 503)")
	recaptchaMinScore := flags.Float64("anonRecaptchaMinScore", envFloat("ANON_RECAPTCHA_MIN_SCORE", 0), "reCAPTCHA v3: the lowest accepted score (0 = v2, no score)")

	// Flags are parsed here, before the plugins are registered, because their
	// values configure the plugins (the same order PocketBase's own main uses).
	_ = app.RootCmd.ParseFlags(args)

	// replicate first: a restore must happen before anything opens data.db.
	if _, err := replicate.Register(app, replicate.Config{
		URL: *replicaURL, SyncInterval: *replicaInterval, Auxiliary: *replicaAux, RestoreIfMissing: *restoreIfMissing,
	}); err != nil {
		log.Fatal(err) // e.g. --restoreIfMissing without --replicate: exit 1 with the reason
	}

	// anonauth next: the JS globals and templates call into it.
	guests := anonauth.MustRegister(app, anonauth.Config{
		Collections:       *collections,
		EmailDomain:       *emailDomain,
		TokenDuration:     *tokenDuration,
		RateLimit:         disabledIfZero(*rateLimit),
		TrustedOrigins:    *trustedOrigins,
		CookieName:        *cookieName,
		MaxAge:            disabledIfZeroDuration(*maxAge),
		ActivityInterval:  *activityInterval,
		CleanupSchedule:   *cleanupSchedule,
		CleanupBatchSize:  *cleanupBatch,
		MaxMergeRecords:   disabledIfZero(*maxMerge),
		SessionRenewAfter: disabledIfZeroFloat(*sessionRenewAfter),
		EmptyMaxAge:       disabledIfZeroDuration(*emptyMaxAge),
		Challenge: anonauth.ChallengeConfig{
			Provider:  *challenge,
			MaxNumber: *challengeDifficulty,
			TTL:       *challengeTTL,
			Secret:    env("ANON_CAPTCHA_SECRET", ""),
			SiteKey:   *captchaSiteKey,
			VerifyURL: *captchaVerifyURL,
			Timeout:   *captchaTimeout,
			FailOpen:  *captchaFailOpen,
			MinScore:  *recaptchaMinScore,
		},
	})
	app.RootCmd.AddCommand(guests.Command()) // pocketguest anonymous cleanup

	// PocketBase's jsvm (pb_hooks, pb_migrations) with our globals in every
	// VM.
	hooks := jsvm.MustRegister(app, jsvm.Config{
		Hooks: pbjsvm.Config{
			HooksDir:      *hooksDir,
			HooksWatch:    *hooksWatch,
			HooksPoolSize: *hooksPool,
			MigrationsDir: *migrationsDir,
		},
		Guests: guests,
	})

	// The PocketPages-compatible pages engine; its VMs get the pb_hooks
	// globals too.
	pages.MustRegister(app, pages.Config{
		TemplatesDir:  *templatesDir,
		HooksDir:      hooks.HooksDir(),
		TemplatesDev:  app.IsDev(), // explicit: see NewWithConfig above
		RenderTimeout: disabledIfZeroDuration(*renderTimeout),
		PoolSize:      *templatesPool,
		Guests:        guests,
		InitVM:        hooks.InitVM,
	})

	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		TemplateLang: migratecmd.TemplateLangJS,
		Automigrate:  *automigrate,
		Dir:          *migrationsDir,
	})

	return app, guests
}

// disabledIfZero maps the flag convention (0 = off) to the Config convention
// (0 = default, negative = off).
func disabledIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func disabledIfZeroDuration(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func disabledIfZeroFloat(f float64) float64 {
	if f == 0 {
		return -1
	}
	return f
}

func envFloat(name string, fallback float64) float64 {
	f, err := strconv.ParseFloat(env(name, strconv.FormatFloat(fallback, 'g', -1, 64)), 64)
	if err != nil {
		log.Fatalf("POCKETGUEST_%s: not a number: %v", name, err)
	}
	return f
}

// env reads POCKETGUEST_<name>, the environment form of a flag.
func env(name, fallback string) string {
	if v, ok := os.LookupEnv("POCKETGUEST_" + name); ok {
		return v
	}
	return fallback
}

func envList(name string, fallback []string) []string {
	v := env(name, "")
	if v == "" {
		return fallback
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func envInt(name string, fallback int) int {
	n, err := strconv.Atoi(env(name, strconv.Itoa(fallback)))
	if err != nil {
		log.Fatalf("POCKETGUEST_%s: not a whole number: %v", name, err)
	}
	return n
}

func envBool(name string, fallback bool) bool {
	b, err := strconv.ParseBool(env(name, strconv.FormatBool(fallback)))
	if err != nil {
		log.Fatalf("POCKETGUEST_%s: not a boolean: %v", name, err)
	}
	return b
}

func envDuration(name string, fallback time.Duration) time.Duration {
	d, err := time.ParseDuration(env(name, fallback.String()))
	if err != nil {
		log.Fatalf("POCKETGUEST_%s: not a duration (e.g. 168h): %v", name, err)
	}
	return d
}
