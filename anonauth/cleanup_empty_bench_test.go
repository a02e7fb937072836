package anonauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketguest/pocketguest/anonauth"
)

// BenchmarkCleanupPass is the cost of deleting a guest by each cleanup pass,
// in CPU time of the process per deleted guest (the passes rest between
// batches, so wall time would mostly measure the rest):
//
//   - stale: 1,000 guests idle for 40 days among 2,000 (the others idle for
//     an hour and owning a cart line), deleted by MaxAge;
//   - empty: 1,000 guests idle for 2 days that own nothing among 2,000 (the
//     others owning a cart line), deleted by EmptyMaxAge, each decided by
//     the owner index probe when listed and again under the write lock.
//
// Run with: go test ./anonauth -run '^$' -bench CleanupPass -benchtime 3x
func BenchmarkCleanupPass(b *testing.B) {
	for _, pass := range []string{"stale", "empty"} {
		b.Run(pass, func(b *testing.B) {
			app, p := newBenchApp(b, anonauth.Config{})
			users, err := app.FindCollectionByNameOrId("users")
			if err != nil {
				b.Fatal(err)
			}
			carts := core.NewBaseCollection("carts")
			carts.Fields.Add(&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true})
			if err := app.Save(carts); err != nil {
				b.Fatal(err)
			}

			var cpu time.Duration
			deleted := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for g := 0; g < 2000; g++ {
					guest, err := p.CreateGuest(app, users)
					if err != nil {
						b.Fatal(err)
					}
					kept := g%2 == 0
					idle := 2 * 24 * time.Hour
					if pass == "stale" && !kept {
						idle = 40 * 24 * time.Hour
					} else if pass == "stale" {
						idle = time.Hour
					}
					seen, _ := types.ParseDateTime(time.Now().Add(-idle))
					if _, err := app.DB().Update("users", dbx.Params{anonauth.FieldLastSeen: seen.String()}, dbx.HashExp{"id": guest.Id}).Execute(); err != nil {
						b.Fatal(err)
					}
					if kept {
						cart := core.NewRecord(carts)
						cart.Set("owner", guest.Id)
						if err := app.Save(cart); err != nil {
							b.Fatal(err)
						}
					}
				}
				opts := anonauth.CleanupOptions{BatchSize: 50}
				if pass == "stale" {
					opts.EmptyMaxAge = -1
				}
				b.StartTimer()

				start := processCPU()
				res, err := p.Cleanup(context.Background(), opts)
				cpu += processCPU() - start
				if err != nil || res.Deleted != 1000 {
					b.Fatalf("%+v, %v", res, err)
				}
				deleted += res.Deleted

				b.StopTimer()
				// The kept guests go too, so every round starts alike.
				if _, err := p.Cleanup(context.Background(), anonauth.CleanupOptions{MaxAge: time.Nanosecond, EmptyMaxAge: -1}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(deleted), "cpu-µs/deleted")
		})
	}
}
