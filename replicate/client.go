package replicate

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// statusClient is a Litestream replica client that remembers how its last
// calls went: Litestream logs and retries a failed upload but does not
// expose the failure, and the health view must say "down".
type statusClient struct {
	litestream.ReplicaClient

	mu        sync.Mutex
	okAt      time.Time // last call that reached the replica
	errAt     time.Time // last call that failed
	err       string
	errStreak int // failed calls since the last success
}

func (c *statusClient) record(err error) {
	if errors.Is(err, context.Canceled) {
		return // shutdown, not the replica's fault
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errAt, c.err = time.Now(), err.Error()
		c.errStreak++
		return
	}
	c.okAt = time.Now()
	c.errStreak = 0
}

// lastError returns the error of the last failed call if no call
// succeeded since.
func (c *statusClient) lastError() (string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errStreak == 0 {
		return "", time.Time{}
	}
	return c.err, c.errAt
}

func (c *statusClient) snapshot() (okAt, errAt time.Time, err string, streak int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.okAt, c.errAt, c.err, c.errStreak
}

func (c *statusClient) Init(ctx context.Context) error {
	err := c.ReplicaClient.Init(ctx)
	if err != nil {
		c.record(err)
	}
	return err
}

func (c *statusClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	itr, err := c.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil {
		c.record(err)
		return nil, err
	}
	return &statusIterator{FileIterator: itr, client: c}, nil
}

func (c *statusClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	c.record(err)
	return rc, err
}

func (c *statusClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	info, err := c.ReplicaClient.WriteLTXFile(ctx, level, minTXID, maxTXID, r)
	c.record(err)
	return info, err
}

func (c *statusClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	err := c.ReplicaClient.DeleteLTXFiles(ctx, a)
	c.record(err)
	return err
}

// statusIterator records the outcome of a listing, which S3 reports when
// the iteration ends.
type statusIterator struct {
	ltx.FileIterator
	client *statusClient
	done   bool
}

func (it *statusIterator) Close() error {
	err := it.FileIterator.Close()
	if !it.done {
		it.done = true
		outcome := err
		if outcome == nil {
			outcome = it.FileIterator.Err()
		}
		it.client.record(outcome)
	}
	return err
}
