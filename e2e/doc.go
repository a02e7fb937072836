// Package e2e holds PocketGuest's end-to-end browser tests: the real
// pocketguest binary, built from this repository, serves the demo shop
// (pb_migrations/ + templates/) on 127.0.0.1 and headless Chromium drives it
// through the Chrome DevTools Protocol (github.com/chromedp/chromedp).
//
// Run them with the rest of the tests:
//
//	go test ./e2e/
//
// They need Chromium (Debian: apt-get install chromium chromium-driver).
// Without it they skip with a message, except when CI=true, where a
// missing browser is a failure. Environment knobs:
//
//	POCKETGUEST_E2E_BIN      use this pocketguest binary instead of building one
//	POCKETGUEST_E2E_CHROME   path of the Chromium/Chrome executable
//	POCKETGUEST_E2E_ARTIFACTS  where failure screenshots, page HTML and server
//	                         logs go (default: $TMPDIR/pocketguest-e2e-artifacts)
//
// Each test gets its own browser context (a fresh cookie jar) in one shared
// Chromium, and all tests share one server, except the rate-limit test,
// which starts a second one with a limit of one sign-in per minute.
package e2e
