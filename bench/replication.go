package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
)

// replicationSlices is how many measured slices each replication row gets.
// The two servers take turns (off, on, on, off, off, on, ...), so that a
// shared machine's drifting load hits both rows alike.
const replicationSlices = 4

// replicationCost measures what continuous replication (serve --replicate,
// the replicate plugin) costs a sign-in: the endpoint on a server without
// replication next to one replicating to a file:// replica on the same
// disk (Litestream reads the WAL, writes LTX files and copies them; an S3
// upload runs in the background and costs the request path the same CPU).
// Both start from the same pristine pb_data and run at the same time, idle
// while the other is measured.
func (b *bench) replicationCost(ctx context.Context) error {
	if !b.bin.flags["replicate"] {
		for i := range b.rep.replication {
			b.rep.replication[i].unavailable = "this pocketguest has no --replicate flag"
		}
		return nil
	}
	var servers [2]*server
	for i := range servers {
		name := fmt.Sprintf("replication-%d", i)
		d, err := b.dirs(name)
		if err != nil {
			return err
		}
		defer b.removeRun(name)
		if i == 1 {
			d.extraArgs = []string{"--replicate=file://" + filepath.Join(b.tmp, name, "replica")}
		}
		if servers[i], err = startServer(ctx, b.bin, d); err != nil {
			return err
		}
		defer servers[i].stop()
	}

	slice := b.cfg.Duration / replicationSlices * 2 // each row: 2 × Duration in total
	for n := 0; n < 2*replicationSlices; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		i := n % 2
		if (n/2)%2 == 1 {
			i = 1 - i // ABBA order
		}
		row, s := &b.rep.replication[i], servers[i]
		l := load{
			name: row.label, target: target(s, http.MethodPost, endpointPath), check: checkAuthJSON,
			concurrency: b.cfg.Concurrency, duration: slice, serverCPU: s.cpuTime,
		}
		if n < 2 {
			l.warmup = b.cfg.Warmup
			b.logf("row %q: %s warm-up + %d slices of %s at %d clients, taking turns with the other row",
				row.label, b.cfg.Warmup, replicationSlices, slice, b.cfg.Concurrency)
		}
		st := l.run()
		if row.ran {
			st = row.st.merge(st)
		}
		row.st, row.ran = st, true
	}
	for _, row := range b.rep.replication {
		b.logf("  %s: %s", row.label, row.st.summary())
	}
	return nil
}
