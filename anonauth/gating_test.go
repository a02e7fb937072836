package anonauth_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
)

func TestRequireFullAccount(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/checkout", func(e *core.RequestEvent) error {
			return e.String(http.StatusOK, "paid")
		}).Bind(anonauth.RequireFullAccount())
		se.Router.POST("/api/users-only", func(e *core.RequestEvent) error {
			return e.String(http.StatusOK, "ok")
		}).Bind(anonauth.RequireFullAccount("clients"))
		return se.Next()
	})
	h := serve(t, app)

	_, guestTok := guestToken(t, app, "users")
	_, userTok := userToken(t, app, "test@example.com")
	superuser, _ := app.FindAuthRecordByEmail("_superusers", "test@example.com")
	suTok, _ := superuser.NewAuthToken()

	for _, c := range []struct {
		name, url, token string
		status           int
	}{
		{"no auth", "/api/checkout", "", http.StatusUnauthorized},
		{"guest", "/api/checkout", guestTok, http.StatusForbidden},
		{"user", "/api/checkout", userTok, http.StatusOK},
		{"superuser", "/api/checkout", suTok, http.StatusOK},
		{"user of another collection", "/api/users-only", userTok, http.StatusForbidden},
	} {
		if res := request(t, h, http.MethodPost, c.url, c.token); res.StatusCode != c.status {
			t.Errorf("%s: want %d, got %d", c.name, c.status, res.StatusCode)
		}
	}
}

// TestGatingRuleSnippet: the documented rule keeps guests out of a
// collection and lets regular accounts in.
func TestGatingRuleSnippet(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, anonauth.Config{})
	defer app.Cleanup()
	orders := core.NewBaseCollection("orders")
	orders.Fields.Add(&core.TextField{Name: "item"})
	rule := `@request.auth.id != "" && @request.auth.isAnonymous = false`
	orders.CreateRule = &rule
	orders.ListRule = &rule
	if err := app.Save(orders); err != nil {
		t.Fatal(err)
	}
	h := serve(t, app)
	_, guestTok := guestToken(t, app, "users")
	_, userTok := userToken(t, app, "test@example.com")

	if rec := post(t, h, "/api/collections/orders/records", `{"item":"x"}`, guestTok); rec.Code == http.StatusOK {
		t.Fatalf("a guest created an order: %s", rec.Body)
	}
	if rec := post(t, h, "/api/collections/orders/records", `{"item":"x"}`, userTok); rec.Code != http.StatusOK {
		t.Fatalf("a user could not create an order: %d %s", rec.Code, rec.Body)
	}
	res := request(t, h, http.MethodGet, "/api/collections/orders/records", guestTok)
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(res.Body)
	if !strings.Contains(body.String(), `"totalItems":0`) {
		t.Fatalf("a guest listed orders: %s", body)
	}
}
