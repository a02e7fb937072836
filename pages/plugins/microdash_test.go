package plugins

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pocketbase/pocketbase/core"
)

func TestMicroDash(t *testing.T) {
	h := newTestHost(t, Env{}, pluginItem{name: "pocketpages-plugin-micro-dash"})

	// The helpers are globals: on globalApi, so on every page's api.
	script := `
	  const g = host.globalApi
	  const out = []
	  g.forEach([1, 2, 3, 4], (v, i) => { out.push(v + ':' + i); if (v === 2) return false })
	  g.forEach({ a: 1, b: 2 }, (v, k) => { out.push(k + '=' + v) })
	  const merged = g.merge({ a: { x: 1, keep: true }, list: [1, 2] }, { a: { x: 2 } }, { list: [9], b: 3 })
	  const source = { deep: { n: 1 } }
	  const target = g.merge({ deep: { m: 0 } }, source)
	  target.deep.n = 99 // a merged nested object is a copy, not the source's
	  const shuffled = g.shuffle([1, 2, 3, 4, 5, 6, 7, 8])
	  JSON.stringify({
	    out,
	    keys: g.keys({ a: 1, b: 2 }), arrayKeys: g.keys(['x', 'y']), nilKeys: g.keys(null),
	    values: g.values({ a: 1, b: 'two' }),
	    merged, sourceUntouched: source.deep.n,
	    picked: g.pick({ a: 1, b: 2, c: 3 }, 'a', 'c'), pickNull: g.pick(null, 'a'),
	    sortedShuffle: shuffled.slice().sort(), shuffledLength: shuffled.length,
	    shuffleObject: g.shuffle({ a: 1, b: 2 }).sort(),
	  })
	`
	h.vm.Set("host", h.host)
	got, err := h.vm.RunString(script)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"out":["1:0","2:1","a=1","b=2"],"keys":["a","b"],"arrayKeys":["0","1"],"nilKeys":[],` +
		`"values":[1,"two"],"merged":{"a":{"x":2,"keep":true},"list":[9,2],"b":3},"sourceUntouched":1,` +
		`"picked":{"a":1,"c":3},"pickNull":{},"sortedShuffle":[1,2,3,4,5,6,7,8],"shuffledLength":8,"shuffleObject":[1,2]}`
	if got.String() != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// A page sees them as locals.
	e := &core.RequestEvent{}
	e.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	e.Response = httptest.NewRecorder()
	p := h.newPage(e, nil, nil)
	if v := p.mustRun(`return keys(pick({a: 1, b: 2}, 'b')).join()`); v.String() != "b" {
		t.Fatalf("page locals: got %v", v)
	}
}
