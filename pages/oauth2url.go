package pages

import (
	"net/http"

	"github.com/pocketbase/pocketbase/tools/auth"
	"github.com/pocketbase/pocketbase/tools/security"
	"golang.org/x/oauth2"
)

// oauth2AuthURL builds the provider's authorization URL for state the way
// PocketBase's auth-methods endpoint does (apis/record_auth_methods.go):
// Apple gets response_mode=form_post, and a provider that uses PKCE gets a
// fresh verifier (returned, to keep for the code exchange) and its S256
// challenge from security.S256Challenge.
//
// Why not call auth-methods itself: its handler is unexported, a call
// through the router would set up every provider of the collection to use
// one, and it leaves redirect_uri empty for the client to append, where
// here the redirect URL is the provider's (set by the caller) and is kept
// with the state.
func oauth2AuthURL(provider auth.Provider, providerName, state string) (authURL, codeVerifier string) {
	var opts []oauth2.AuthCodeOption

	if providerName == auth.NameApple {
		// https://developer.apple.com/documentation/sign_in_with_apple/sign_in_with_apple_js/incorporating_sign_in_with_apple_into_other_platforms#3332113
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", "form_post"))
	}

	if provider.PKCE() {
		codeVerifier = security.RandomString(43)
		opts = append(opts,
			oauth2.SetAuthURLParam("code_challenge", security.S256Challenge(codeVerifier)),
			oauth2.SetAuthURLParam("code_challenge_method", "S256"),
		)
	}

	return provider.BuildAuthURL(state, opts...), codeVerifier
}

// oauth2StateSameSite is the SameSite mode of the pb_oauth2 state cookie.
//
// Lax is enough for a provider that redirects back with a GET (a top-level
// navigation carries Lax cookies). Apple's form_post comes back as a
// cross-site POST, which carries only SameSite=None cookies, and those must
// be Secure: Apple only redirects to https anyway. The page that receives
// that POST must also let it through the same-origin check: add
// https://appleid.apple.com to --anonTrustedOrigins.
func oauth2StateSameSite(providerName string) http.SameSite {
	if providerName == auth.NameApple {
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}
