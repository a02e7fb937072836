package anonauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketguest/pocketguest/anonauth"
)

func TestSchemaAddsFieldAndRules(t *testing.T) {
	t.Parallel()

	app := newTestApp(t, anonauth.Config{Collections: []string{"users", "nologin", "not_created_yet"}})
	defer app.Cleanup()

	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := users.Fields.GetByName(anonauth.FieldIsAnonymous).(*core.BoolField); !ok || f.Hidden {
		t.Fatalf("users must have a visible bool isAnonymous field, got %#v", f)
	}
	for name, rule := range map[string]*string{"createRule": users.CreateRule, "updateRule": users.UpdateRule} {
		if rule == nil || !strings.Contains(*rule, "@request.body.isAnonymous:isset = false") {
			t.Fatalf("%s does not protect the flag: %v", name, rule)
		}
	}
	// The original update rule is kept, and-ed with ours.
	if !strings.HasPrefix(*users.UpdateRule, "(id = @request.auth.id) && ") {
		t.Fatalf("updateRule lost the original rule: %q", *users.UpdateRule)
	}

	// Idempotent: a second run changes nothing (no duplicate clause).
	before := *users.UpdateRule
	if err := anonauth.FromApp(app).EnsureSchema(app); err != nil {
		t.Fatal(err)
	}
	users, _ = app.FindCollectionByNameOrId("users")
	if *users.UpdateRule != before {
		t.Fatalf("EnsureSchema is not idempotent: %q -> %q", before, *users.UpdateRule)
	}

	// A system collection gets the field (its rules cannot change).
	nologin, _ := app.FindCollectionByNameOrId("nologin")
	if nologin.Fields.GetByName(anonauth.FieldIsAnonymous) == nil {
		t.Fatal("nologin must have the isAnonymous field")
	}
}

func TestSchemaRejectsNonAuthCollection(t *testing.T) {
	t.Parallel()

	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()

	if _, err := anonauth.Register(app, anonauth.Config{Collections: []string{"demo1"}}); err == nil || !strings.Contains(err.Error(), "not an auth collection") {
		t.Fatalf("expected a configuration error, got %v", err)
	}
}

// TestClientsCannotSetTheFlag: no client may forge a guest or flip a guest to
// a full account through the records API; only the upgrade flow does that.
func TestClientsCannotSetTheFlag(t *testing.T) {
	t.Parallel()

	scenarios := []tests.ApiScenario{
		{
			Name:            "create with isAnonymous is refused by the collection rule",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/records",
			Body:            strings.NewReader(`{"email":"new@example.com","password":"1234567890","passwordConfirm":"1234567890","isAnonymous":true}`),
			Headers:         map[string]string{"Content-Type": "application/json"},
			TestAppFactory:  appFactory(anonauth.Config{}),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				if _, err := app.FindAuthRecordByEmail("users", "new@example.com"); err == nil {
					t.Fatal("the record must not be created")
				}
			},
		},
		{
			Name:            "a system collection (no rule possible) is protected by the request guard",
			Method:          http.MethodPost,
			URL:             "/api/collections/nologin/records",
			Body:            strings.NewReader(`{"email":"new@example.com","password":"1234567890","passwordConfirm":"1234567890","isAnonymous":true}`),
			Headers:         map[string]string{"Content-Type": "application/json"},
			TestAppFactory:  appFactory(anonauth.Config{Collections: []string{"nologin"}}),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"isAnonymous":{"code":"validation_anonymous_flag"`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				if _, err := app.FindAuthRecordByEmail("nologin", "new@example.com"); err == nil {
					t.Fatal("the record must not be created")
				}
			},
		},
		{
			Name:            "create without the flag still works (a normal sign-up)",
			Method:          http.MethodPost,
			URL:             "/api/collections/users/records",
			Body:            strings.NewReader(`{"email":"new@example.com","password":"1234567890","passwordConfirm":"1234567890"}`),
			Headers:         map[string]string{"Content-Type": "application/json"},
			TestAppFactory:  appFactory(anonauth.Config{}),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"isAnonymous":false`},
			ExpectedEvents:  map[string]int{"OnRecordCreateRequest": 1},
		},
		{
			Name:    "a guest cannot flip its own flag",
			Method:  http.MethodPatch,
			URL:     "/api/collections/users/records/GUEST",
			Body:    strings.NewReader(`{"isAnonymous":false}`),
			Headers: map[string]string{"Content-Type": "application/json"},
			TestAppFactory: func(t testing.TB) *tests.TestApp {
				return newTestApp(t, anonauth.Config{})
			},
			BeforeTestFunc: func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				guest, token := guestToken(t, app, "users")
				withAuthHeader(e, token)
				setPathValue(e, "id", guest.Id)
			},
			// PocketBase answers a failed update rule with 404.
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
				n := countGuests(t, app, "users")
				if n != 1 {
					t.Fatalf("the guest must still be anonymous, guests = %d", n)
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}
