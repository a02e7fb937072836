package stmtcache

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/security"
)

// BenchmarkQueries is a PocketBase-shaped insert and lookup by id through
// dbx, with the cache off (PocketBase's DefaultDBConnect) and on. cpu-ns/op
// is the process's CPU time per op (getrusage), steadier than ns/op on a
// shared machine.
//
//	go test ./internal/stmtcache -run '^$' -bench Queries -benchmem
func BenchmarkQueries(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"off", -1}, {"on", 0}} {
		b.Run(c.name, func(b *testing.B) {
			db, err := DBConnect(Config{Size: c.size})(filepath.Join(b.TempDir(), "data.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.NewQuery("CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, tokenKey TEXT, created TEXT, updated TEXT)").Execute(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := security.RandomString(15)
				now := time.Now().UTC().Format(time.RFC3339Nano)
				if _, err := db.Insert("users", dbx.Params{"id": id, "email": id + "@example.com", "tokenKey": id, "created": now, "updated": now}).Execute(); err != nil {
					b.Fatal(err)
				}
				var got struct{ Email string }
				if err := db.Select("email").From("users").Where(dbx.HashExp{"id": id}).Limit(1).One(&got); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
