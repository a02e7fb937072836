package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
)

// replicationCost measures what continuous replication (serve --replicate,
// the replicate plugin) costs a sign-in: the endpoint on a server without
// replication, then on one replicating to a file:// replica on the same
// disk (Litestream reads the WAL, writes LTX files and copies them; an S3
// upload runs in the background and costs the request path the same CPU).
// Fresh pb_data copies of the same pristine data, same load, one after the
// other.
func (b *bench) replicationCost(ctx context.Context) error {
	if !b.bin.flags["replicate"] {
		for i := range b.rep.replication {
			b.rep.replication[i].unavailable = "this pocketguest has no --replicate flag"
		}
		return nil
	}
	for i := range b.rep.replication {
		if err := ctx.Err(); err != nil {
			return err
		}
		row := &b.rep.replication[i]
		name := fmt.Sprintf("replication-%d", i)
		d, err := b.dirs(name)
		if err != nil {
			return err
		}
		if i == 1 {
			d.extraArgs = []string{"--replicate=file://" + filepath.Join(b.tmp, name, "replica")}
		}
		s, err := startServer(ctx, b.bin, d)
		if err != nil {
			return err
		}
		b.logf("row %q: %s warm-up + %s at %d clients", row.label, b.cfg.Warmup, b.cfg.Duration, b.cfg.Concurrency)
		row.st = load{
			name: row.label, target: target(s, http.MethodPost, endpointPath), check: checkAuthJSON,
			concurrency: b.cfg.Concurrency, warmup: b.cfg.Warmup, duration: b.cfg.Duration,
			serverCPU: s.cpuTime, onMeasure: b.profiler(name),
		}.run()
		row.ran = true
		b.logf("  %s", row.st.summary())
		if err := s.stop(); err != nil {
			return err
		}
		b.removeRun(name)
	}
	return nil
}
