package anonauth_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/pocketguest/pocketguest/anonauth"
)

// Issue 18 items 3(c) and 4: a merge records which guest went into which
// account from which IP; OnLink handlers can refuse or filter a merge (a
// guest session planted in a victim's browser); a merge moves at most
// Config.MaxMergeRecords records.

// mergedEvent returns the anonymousEvents row of the guest's merge.
func mergedEvent(t testing.TB, app core.App, guestId string) map[string]string {
	t.Helper()
	row := struct {
		RecordRef  string `db:"recordRef"`
		AccountRef string `db:"accountRef"`
		IP         string `db:"ip"`
	}{}
	err := app.DB().Select("recordRef", "accountRef", "ip").From(anonauth.EventsCollection).
		Where(dbx.HashExp{"event": anonauth.AuditMerged, "recordRef": guestId}).One(&row)
	if err != nil {
		t.Fatalf("no merged event for guest %s: %v", guestId, err)
	}
	return map[string]string{"recordRef": row.RecordRef, "accountRef": row.AccountRef, "ip": row.IP}
}

func TestMergeAuditRefusalAndFilter(t *testing.T) {
	t.Parallel()

	s := &linkState{}
	signIn := func(cfg anonauth.Config) tests.ApiScenario {
		return tests.ApiScenario{
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			Headers:        map[string]string{"X-Forwarded-For": "203.0.113.9"}, // ignored: no trusted proxy
			TestAppFactory: shopFactory(cfg),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				enableLogs(app)
				s.setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
		}
	}

	audited := signIn(anonauth.Config{})
	audited.Name = "the merge is audited: guest, account and client IP, in the log and in anonymousEvents"
	audited.ExpectedStatus = 200
	audited.ExpectedContent = []string{`"token":"`}
	audited.AfterTestFunc = func(t testing.TB, app *tests.TestApp, res *http.Response) {
		s.merged(t, app, true)
		ev := mergedEvent(t, app, s.guest.Id)
		// httptest's client address; X-Forwarded-For is not trusted by default
		if ev["accountRef"] != s.account.Id || ev["ip"] != "192.0.2.1" {
			t.Fatalf("merged event = %v, want account %s from 192.0.2.1", ev, s.account.Id)
		}
		logs := auditLogs(t, app, anonauth.AuditMerged)
		if len(logs) != 1 || logs[0]["recordId"] != s.guest.Id || logs[0]["accountId"] != s.account.Id || logs[0]["ip"] != "192.0.2.1" {
			t.Fatalf("merged log = %v", logs)
		}
	}

	skipped := signIn(anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
		return anonauth.ErrSkipMerge // keep the guest apart, let the sign-in go on
	}})
	skipped.Name = "OnLink refuses the merge without failing the sign-in: signed in, guest untouched, logged"
	skipped.ExpectedStatus = 200
	skipped.ExpectedContent = []string{`"email":"test@example.com"`}
	skipped.AfterTestFunc = func(t testing.TB, app *tests.TestApp, res *http.Response) {
		if body := readAuth(t, res); body.Record["id"] != s.account.Id {
			t.Fatalf("signed in as %v", body.Record["id"])
		}
		s.untouched(t, app, nil)
		logs := auditLogs(t, app, anonauth.AuditMergeSkipped)
		if len(logs) != 1 || logs[0]["recordId"] != s.guest.Id || logs[0]["accountId"] != s.account.Id || logs[0]["ip"] != "192.0.2.1" {
			t.Fatalf("mergeSkipped log = %v", logs)
		}
		if n, _ := app.CountRecords(anonauth.EventsCollection, dbx.HashExp{"event": anonauth.AuditMerged}); n != 0 {
			t.Fatal("a skipped merge must not count as merged")
		}
	}

	refused := signIn(anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
		return router.NewForbiddenError("This guest session cannot be merged.", nil)
	}})
	refused.Name = "OnLink refuses the merge with an error: the sign-in fails, nothing changed"
	refused.ExpectedStatus = 403
	refused.ExpectedContent = []string{`"message":"This guest session cannot be merged."`}
	refused.NotExpectedContent = []string{`"token"`}
	refused.AfterTestFunc = func(t testing.TB, app *tests.TestApp, res *http.Response) {
		s.untouched(t, app, res)
	}

	filtered := signIn(anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
		// "lists" stands for a self-join table (members → users): a planted
		// guest's memberships must not become the victim's.
		e.SkipRelations = []string{"lists.members"}
		e.DeleteAnonymous = false
		return nil
	}})
	filtered.Name = "OnLink filters the merge: skipped relations stay on the guest, the rest moves"
	filtered.ExpectedStatus = 200
	filtered.ExpectedContent = []string{`"token":"`}
	filtered.AfterTestFunc = func(t testing.TB, app *tests.TestApp, res *http.Response) {
		mustOwner(t, app, s.cart, s.account.Id)
		mustGuest(t, app, s.guest)
		if got := reload(t, app, s.shared).GetStringSlice("members"); !slices.Equal(got, []string{s.guest.Id, s.account.Id}) {
			t.Fatalf("shared list members = %v, want unchanged", got)
		}
		if got := reload(t, app, s.solo).GetStringSlice("members"); !slices.Equal(got, []string{s.guest.Id}) {
			t.Fatalf("solo list members = %v, want unchanged", got)
		}
	}

	for _, sc := range []tests.ApiScenario{audited, skipped, refused, filtered} {
		sc.Test(t)
	}
}

func TestMergeIsBoundedByMaxMergeRecords(t *testing.T) {
	t.Parallel()

	// A guest with 2 lists + 3 carts = 5 records to move; the cap is 4.
	s := &linkState{}
	setup := func(t testing.TB, app *tests.TestApp) {
		s.setup(t, app) // 1 cart, 2 lists
		newCart(t, app, s.guest, "more")
		newCart(t, app, s.guest, "even more")
		n, _ := app.CountRecords("carts")
		s.beforeCartsCount = int(n)
	}

	scenarios := []tests.ApiScenario{
		{
			Name:           "over the cap: 409 with a clear message, nothing moved, the guest keeps its session",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{MaxMergeRecords: 4}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:     409,
			ExpectedContent:    []string{`more than 4 records`, `Sign out of the guest session to sign in without merging it`},
			NotExpectedContent: []string{`"token"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.untouched(t, app, res)
			},
		},
		{
			Name:           "at the cap: merged",
			Method:         http.MethodPost,
			URL:            passwordURL,
			Body:           passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{MaxMergeRecords: 5}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"token":"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				s.merged(t, app, true)
			},
		},
		{
			Name:   "over the cap, but OnLink skips enough: merged",
			Method: http.MethodPost,
			URL:    passwordURL,
			Body:   passwordBody("test@example.com"),
			TestAppFactory: shopFactory(anonauth.Config{MaxMergeRecords: 4, OnLink: func(e *anonauth.LinkEvent) error {
				e.SkipRelations = []string{"lists"}
				return nil
			}}),
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				setup(t, app)
				withAuthHeader(e, s.guestTok)
			},
			ExpectedStatus:  200,
			ExpectedContent: []string{`"token":"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				mustOwner(t, app, s.cart, s.account.Id)
				mustGone(t, app, s.guest)
			},
		},
	}
	for _, sc := range scenarios {
		sc.Test(t)
	}

	// From Go: errors.Is tells the refusal apart, and it is a 409 ApiError.
	app := shopApp(t, anonauth.Config{MaxMergeRecords: 4})
	s.setup(t, app)
	newCart(t, app, s.guest, "more")
	newCart(t, app, s.guest, "even more")
	err := anonauth.FromApp(app).Link(app, s.guest, s.account)
	var apiErr *router.ApiError
	if !errors.Is(err, anonauth.ErrMergeTooLarge) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Fatalf("Link over the cap = %v, want ErrMergeTooLarge as a 409", err)
	}
	mustOwner(t, app, s.cart, s.guest.Id)
	mustGuest(t, app, s.guest)
}

// A typo in SkipRelations must not quietly merge what it meant to protect.
func TestSkipRelationsTypoFailsTheMerge(t *testing.T) {
	t.Parallel()
	for _, skip := range []string{"shraes", "carts.ownr"} {
		app := shopApp(t, anonauth.Config{OnLink: func(e *anonauth.LinkEvent) error {
			e.SkipRelations = []string{skip}
			return nil
		}})
		s := &linkState{}
		s.setup(t, app)
		err := anonauth.FromApp(app).Link(app, s.guest, s.account)
		if err == nil || !strings.Contains(err.Error(), skip) {
			t.Fatalf("SkipRelations %q: got %v, want an error naming it", skip, err)
		}
		s.untouched(t, app, nil)
	}
}
