package anonauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

const deleteURL = "/api/collections/users/delete-anonymous"

func TestDeleteAnonymous(t *testing.T) {
	t.Parallel()

	var guest *core.Record
	var guestTok string
	var cart *core.Record

	asGuest := func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		guest, guestTok = guestToken(t, app, "users")
		cart = newCart(t, app, guest, "socks")
		withAuthHeader(e, guestTok)
	}

	scenarios := []tests.ApiScenario{
		{
			Name:           "deletes the caller's guest record: 204 and the cookie cleared",
			Method:         http.MethodPost,
			URL:            deleteURL,
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: asGuest,
			ExpectedStatus: 204,
			ExpectedEvents: map[string]int{
				"OnRecordDelete":             1,
				"OnRecordAfterDeleteSuccess": 1,
			},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				mustGone(t, app, guest)
				// PocketBase's delete rules apply to the guest's data: the
				// (non-cascading) relation is unset.
				mustOwner(t, app, cart, "")
				c := setCookie(res)
				if c == "" || !strings.Contains(c, "Max-Age=0") {
					t.Fatalf("expected an expiring pb_auth cookie, got %q", c)
				}
			},
		},
		{
			Name:           "cookie session works too",
			Method:         http.MethodPost,
			URL:            deleteURL,
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				guest, guestTok = guestToken(t, app, "users")
				value, err := anonauth.EncodeAuthCookie(guestTok, guest)
				if err != nil {
					t.Fatal(err)
				}
				withCookie(e, anonauth.CookieName+"="+value)
			},
			ExpectedStatus: 204,
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				mustGone(t, app, guest)
			},
		},
		{
			Name:           "regular account → 400, nothing deleted",
			Method:         http.MethodPost,
			URL:            deleteURL,
			TestAppFactory: shopFactory(anonauth.Config{}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				var tok string
				guest, tok = userToken(t, app, "test@example.com")
				withAuthHeader(e, tok)
			},
			ExpectedStatus:  400,
			ExpectedContent: []string{`"message":"User is not anonymous."`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				if reload(t, app, guest) == nil {
					t.Fatal("the account was deleted")
				}
			},
		},
		{
			Name:            "no auth → 401",
			Method:          http.MethodPost,
			URL:             deleteURL,
			TestAppFactory:  shopFactory(anonauth.Config{}),
			ExpectedStatus:  401,
			ExpectedContent: []string{`"status":401`},
		},
		{
			Name:            "DisableDelete → 404, guest kept",
			Method:          http.MethodPost,
			URL:             deleteURL,
			TestAppFactory:  shopFactory(anonauth.Config{DisableDelete: true}),
			BeforeTestFunc:  asGuest,
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`, `disabled`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				mustGuest(t, app, guest)
				mustOwner(t, app, cart, guest.Id)
			},
		},
	}

	for _, s := range scenarios {
		s.Test(t)
	}
}

func TestDeleteAnonymousGoAPI(t *testing.T) {
	t.Parallel()

	app := shopApp(t, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)

	guest, _ := guestToken(t, app, "users")
	e, rec := newRequestEvent(app)
	e.Auth = guest
	if err := p.DeleteAnonymous(e); err != nil {
		t.Fatal(err)
	}
	if e.Auth != nil || setCookie(rec.Result()) == "" {
		t.Fatal("expected e.Auth cleared and the cookie expired")
	}
	mustGone(t, app, guest)

	// the stale session again: the guest is gone
	e.Auth = guest
	if err := p.DeleteAnonymous(e); err == nil {
		t.Fatal("expected an error for a guest that is already gone")
	}
}
