package replicate

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benbjohnson/litestream/s3"
	"github.com/pocketbase/pocketbase/tests"
)

func TestParseReplicaURL(t *testing.T) {
	ok := []struct{ in, shown string }{
		{"file:///var/backups/app", "file:///var/backups/app"},
		{"s3://bucket", "s3://bucket"},
		{"s3://bucket/some/path", "s3://bucket/some/path"},
		// The query (endpoint, provider options, maybe an SSE-C key) is not shown.
		{"s3://bucket/p?endpoint=http://127.0.0.1:9000&region=us-east-1&sseCustomerKey=secret", "s3://bucket/p"},
	}
	for _, c := range ok {
		ru, err := parseReplicaURL(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := ru.String(); got != c.shown {
			t.Errorf("%q shown as %q, want %q", c.in, got, c.shown)
		}
	}

	bad := []struct{ in, want string }{
		{"", "scheme is missing"},
		{"/var/backups", "scheme is missing"},
		{"gs://bucket/app", `unsupported scheme "gs"`},
		{"file://relative/dir", "a file URL has no host"},
		{"file:relative", "absolute directory"},
		{"file:///tmp/x?y=1", "no query parameters"},
		{"s3:///path-without-bucket", "bucket is missing"},
		{"s3://key:secret@bucket/app", "credentials do not belong in the URL"},
		{"s3://bucket/%zz", "invalid replica URL"},
	}
	for _, c := range bad {
		_, err := parseReplicaURL(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error repeats the credentials: %v", c.in, err)
		}
	}
}

func TestClientFolderPerDatabase(t *testing.T) {
	ru, err := parseReplicaURL("s3://bucket/prod?endpoint=http://127.0.0.1:9000&region=eu-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ru.client("auxiliary.db")
	if err != nil {
		t.Fatal(err)
	}
	s3c, ok := c.(*s3.ReplicaClient)
	if !ok {
		t.Fatalf("client %T, want *s3.ReplicaClient", c)
	}
	got := strings.Join([]string{s3c.Bucket, s3c.Path, s3c.Endpoint, s3c.Region}, " ")
	if want := "bucket prod/auxiliary.db http://127.0.0.1:9000 eu-1"; got != want {
		t.Fatalf("s3 client = %q, want %q", got, want)
	}
}

func TestRegisterRefusesBadConfig(t *testing.T) {
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	if _, err := Register(app, Config{RestoreIfMissing: true}); err == nil || !strings.Contains(err.Error(), "needs a replica URL") {
		t.Fatalf("RestoreIfMissing without URL: %v", err)
	}
	if _, err := Register(app, Config{URL: "file:///tmp/x", SyncInterval: -1}); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Fatalf("negative interval: %v", err)
	}
	p, err := Register(app, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.State != StateOff {
		t.Fatalf("zero Config: state %q, want off", st.State)
	}
}

// TestAutocheckpointHook: connections to a replicated database (opened
// through the modernc driver, as PocketBase does) checkpoint at
// appCheckpointPages; others keep SQLite's default, and a connection that
// sets its own value (Litestream's: 0) keeps it.
func TestAutocheckpointHook(t *testing.T) {
	dir := t.TempDir()
	replicatedDB := filepath.Join(dir, "data.db")
	raiseAutocheckpoint(replicatedDB)

	pages := func(dsn string) int {
		t.Helper()
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := pages(replicatedDB + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"); got != appCheckpointPages {
		t.Errorf("PocketBase-style DSN of the replicated database: wal_autocheckpoint %d, want %d", got, appCheckpointPages)
	}
	if got := pages("file:" + replicatedDB + "?_pragma=wal_autocheckpoint(0)"); got != 0 {
		t.Errorf("Litestream-style DSN: wal_autocheckpoint %d, want its own 0", got)
	}
	if got := pages(filepath.Join(dir, "other.db")); got != 1000 {
		t.Errorf("another database: wal_autocheckpoint %d, want SQLite's default 1000", got)
	}
}
