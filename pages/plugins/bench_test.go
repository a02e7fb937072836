package plugins

import (
	"net/http"
	"testing"

	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// pb().collection(c).getList() in a page against the same query through
// $app.findRecordsByFilter (issue 19: within 2×). Both run as page code on
// the same VM, for a user who owns 30 of the collection's 60 notes; pb()
// goes through the router, the API rule and the JSON encoding, the $app
// call is a bare query.
//
//	go test ./pages/plugins -run '^$' -bench 'PB' -benchtime 2000x
func BenchmarkPBGetList(b *testing.B) {
	p, _ := benchPage(b)
	run := p.compile(`return pb().collection('notes').getList(1, 30).items.length`)
	benchRun(b, run)
}

func BenchmarkPBGetListSkipTotal(b *testing.B) {
	p, _ := benchPage(b)
	run := p.compile(`return pb().collection('notes').getList(1, 30, { skipTotal: true }).items.length`)
	benchRun(b, run)
}

func BenchmarkAppFindRecordsByFilter(b *testing.B) {
	p, _ := benchPage(b)
	run := p.compile(`return $app.findRecordsByFilter('notes', 'owner = {:owner}', '', 30, 0, { owner: request.auth.id }).length`)
	benchRun(b, run)
}

func benchRun(b *testing.B, run func() goja.Value) {
	if n := run().ToInteger(); n != 30 {
		b.Fatalf("got %d records, want 30", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}

func benchPage(b *testing.B) (*page, *testEnv) {
	te := newTestEnv(b, func(app *tests.TestApp) {
		notesSetup(b)(app)
		notes, _ := app.FindCollectionByNameOrId("notes")
		for _, email := range []string{"test@example.com", "test2@example.com"} {
			owner, _ := app.FindAuthRecordByEmail("users", email)
			for i := 0; i < 30; i++ {
				r := core.NewRecord(notes)
				r.Set("title", "note")
				r.Set("owner", owner.Id)
				if err := app.Save(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		// exactly 30 notes for the user: drop the 3 seeded ones
		owner, _ := app.FindAuthRecordByEmail("users", "test@example.com")
		seeded, _ := app.FindRecordsByFilter("notes", "owner = {:o} && title != 'note'", "", 0, 0, map[string]any{"o": owner.Id})
		for _, r := range seeded {
			if err := app.Delete(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	h := newTestHost(b, te.Env, pluginItem{name: "pocketpages-plugin-js-sdk"})
	user, token := te.user(b, "test@example.com")
	e, rec := te.event(http.MethodGet, "/", "")
	p := h.newPage(e, rec, nil)
	p.signedIn(user, token)
	return p, te
}

// compile prepares page code once (as the engine's compiled-program cache
// does) and returns a function that runs it.
func (p *page) compile(code string) func() goja.Value {
	p.h.t.Helper()
	fn, err := p.h.vm.RunString("(function (api) { with (api) { " + code + " } })")
	if err != nil {
		p.h.t.Fatal(err)
	}
	call, _ := goja.AssertFunction(fn)
	return func() goja.Value {
		v, err := call(goja.Undefined(), p.api)
		if err != nil {
			p.h.t.Fatal(err)
		}
		return v
	}
}
