package anonauth

import (
	_ "embed"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
)

// widgetPath serves the ALTCHA widget (npm altcha 3.2.2, MIT, vendored in
// widget/), so a page that turns the proof-of-work challenge on needs no CDN
// and no build step:
//
//	<script type="module" src="/api/anonymous-challenge/altcha.js"></script>
//	<altcha-widget challenge="/api/collections/users/anonymous-challenge"></altcha-widget>
const widgetPath = "/api/anonymous-challenge/altcha.js"

//go:embed widget/altcha.min.js
var widgetJS []byte

// handleWidget is GET /api/anonymous-challenge/altcha.js. It is served
// whatever the configured provider, as a static file would be.
func handleWidget(e *core.RequestEvent) error {
	// A day: the file only changes with the binary.
	e.Response.Header().Set("Cache-Control", "public, max-age=86400")
	return e.Blob(http.StatusOK, "text/javascript; charset=utf-8", widgetJS)
}
