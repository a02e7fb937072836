package anonauth_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pocketguest/pocketguest/anonauth"
)

// The fast path (fastpath.go) must keep everything apps rely on: every
// model/record hook fires once, user hooks see the real App, the row is
// written, and the cross-collection id check still rejects a taken id, also
// for an auth collection created at runtime.

func TestFastPathFiresEveryHookWithTheRealApp(t *testing.T) {
	t.Parallel()

	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableFastPath=%v", disable), func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, anonauth.Config{DisableFastPath: disable})
			defer app.Cleanup()

			var mu sync.Mutex
			fired := map[string]int{}
			appTypes := map[string]string{}
			note := func(name string, a core.App) {
				mu.Lock()
				defer mu.Unlock()
				fired[name]++
				appTypes[name] = fmt.Sprintf("%T", a)
			}

			app.OnRecordValidate("users").BindFunc(func(e *core.RecordEvent) error { note("OnRecordValidate", e.App); return e.Next() })
			app.OnRecordCreate("users").BindFunc(func(e *core.RecordEvent) error { note("OnRecordCreate", e.App); return e.Next() })
			app.OnRecordCreateExecute("users").BindFunc(func(e *core.RecordEvent) error { note("OnRecordCreateExecute", e.App); return e.Next() })
			app.OnRecordAfterCreateSuccess("users").BindFunc(func(e *core.RecordEvent) error {
				note("OnRecordAfterCreateSuccess", e.App)
				return e.Next()
			})
			app.OnModelCreate().BindFunc(func(e *core.ModelEvent) error { note("OnModelCreate", e.App); return e.Next() })
			app.OnModelCreateExecute().BindFunc(func(e *core.ModelEvent) error { note("OnModelCreateExecute", e.App); return e.Next() })
			app.OnModelAfterCreateSuccess().BindFunc(func(e *core.ModelEvent) error {
				note("OnModelAfterCreateSuccess", e.App)
				return e.Next()
			})
			// Bound after PocketBase's system handler at the same priority
			// (99), so it runs inside it: there the lent App shows.
			app.OnRecordCreateExecute("users").Bind(&hook.Handler[*core.RecordEvent]{
				Priority: 99,
				Func: func(e *core.RecordEvent) error {
					note("insideSystemHandler", e.App)
					return e.Next()
				},
			})

			guest, _ := guestToken(t, app, "users")

			for _, name := range []string{"OnRecordValidate", "OnRecordCreate", "OnRecordCreateExecute", "OnRecordAfterCreateSuccess",
				"OnModelCreate", "OnModelCreateExecute", "OnModelAfterCreateSuccess"} {
				if fired[name] != 1 {
					t.Errorf("%s fired %d times, want 1", name, fired[name])
				}
				if appTypes[name] != "*core.BaseApp" {
					t.Errorf("%s saw e.App of type %s, want the real *core.BaseApp", name, appTypes[name])
				}
			}

			lent := strings.Contains(appTypes["insideSystemHandler"], "cachedAuthApp")
			if lent == disable {
				t.Errorf("inside the system handler e.App is %s: fast path engaged = %v, want %v", appTypes["insideSystemHandler"], lent, !disable)
			}

			saved, err := app.FindRecordById("users", guest.Id)
			if err != nil || !anonauth.IsAnonymous(saved) {
				t.Fatalf("guest not saved: %v", err)
			}
		})
	}
}

func TestFastPathKeepsTheAuthIdCrossCheck(t *testing.T) {
	t.Parallel()

	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableFastPath=%v", disable), func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, anonauth.Config{DisableFastPath: disable})
			defer app.Cleanup()

			// An id taken in another auth collection of the fixtures.
			client, err := app.FindFirstRecordByFilter("clients", "")
			if err != nil {
				t.Fatal(err)
			}
			assertIdRejected(t, app, client.Id)

			// An auth collection created at runtime (the collection cache
			// must be reloaded for the fast path to see it).
			members := core.NewAuthCollection("members")
			if err := app.Save(members); err != nil {
				t.Fatal(err)
			}
			member := core.NewRecord(members)
			member.Id = "membertaken0001"
			member.SetEmail("member@example.com")
			member.SetRandomPassword()
			if err := app.Save(member); err != nil {
				t.Fatal(err)
			}
			assertIdRejected(t, app, member.Id)
		})
	}
}

// assertIdRejected saves a guest with a given id and expects PocketBase's
// cross-collection id error.
func assertIdRejected(t *testing.T, app core.App, id string) {
	t.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	guest := core.NewRecord(users)
	guest.Id = id
	guest.SetEmail("anonymous-" + id + "@example.com")
	guest.SetRaw(core.FieldNamePassword, &core.PasswordFieldValue{Hash: "!anonymous:test"})
	guest.Set(anonauth.FieldIsAnonymous, true)
	err = app.Save(guest)
	if err == nil || !strings.Contains(fmt.Sprint(err), "Invalid or duplicated auth record id") {
		t.Fatalf("saving a guest with id %q taken in another auth collection: got %v, want the auth id error", id, err)
	}
}

// The HTTP endpoint with the fast path fires the same events as PocketBase
// would for any auth record created from Go.
func TestFastPathEndpointEvents(t *testing.T) {
	t.Parallel()
	scenario := tests.ApiScenario{
		Name:           "auth-anonymously with the fast path",
		Method:         http.MethodPost,
		URL:            signInURL,
		TestAppFactory: appFactory(anonauth.Config{}),
		ExpectedStatus: 200,
		ExpectedContent: []string{
			`"token":"`,
			`"isAnonymous":true`,
		},
		ExpectedEvents: map[string]int{
			"*":                          0,
			"OnRecordAuthRequest":        1,
			"OnRecordCreate":             1,
			"OnRecordCreateExecute":      1,
			"OnRecordAfterCreateSuccess": 1,
			"OnRecordValidate":           1,
			"OnRecordEnrich":             1,
			"OnModelCreate":              1,
			"OnModelCreateExecute":       1,
			"OnModelAfterCreateSuccess":  1,
			"OnModelValidate":            1,
		},
	}
	scenario.Test(t)
}
