package anonauth_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

func dbxHashExp(field string, value any) dbx.Expression {
	return dbx.HashExp{field: value}
}

// withAuthHeader makes every request of a scenario carry token, set before
// PocketBase loads the auth (tokens are only known once the app exists).
func withAuthHeader(e *core.ServeEvent, token string) {
	e.Router.Bind(&hook.Handler[*core.RequestEvent]{
		Priority: apis.DefaultLoadAuthTokenMiddlewarePriority - 10,
		Func: func(re *core.RequestEvent) error {
			re.Request.Header.Set("Authorization", token)
			return re.Next()
		},
	})
}

// withCookie makes every request of a scenario carry a Cookie header.
func withCookie(e *core.ServeEvent, cookie string) {
	e.Router.Bind(&hook.Handler[*core.RequestEvent]{
		Priority: apis.DefaultLoadAuthTokenMiddlewarePriority - 10,
		Func: func(re *core.RequestEvent) error {
			re.Request.Header.Set("Cookie", cookie)
			return re.Next()
		},
	})
}

// newRequestEvent returns a bare request event for calling the Go API
// directly, and the recorder that receives its response.
func newRequestEvent(app core.App) (*core.RequestEvent, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	e := &core.RequestEvent{App: app}
	e.Request = httptest.NewRequest(http.MethodPost, "/", nil)
	e.Response = rec
	return e, rec
}

// setPathValue overrides a route parameter (ids are only known once the
// scenario's app exists, after the scenario's URL is fixed).
func setPathValue(e *core.ServeEvent, name, value string) {
	e.Router.Bind(&hook.Handler[*core.RequestEvent]{
		Priority: -99999,
		Func: func(re *core.RequestEvent) error {
			re.Request.SetPathValue(name, value)
			return re.Next()
		},
	})
}
