package replicate

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"
)

// replicaURL is a validated Config.URL.
type replicaURL struct {
	u *url.URL
}

// parseReplicaURL accepts file:///absolute/dir and s3://bucket[/path][?...].
// Other Litestream backends (gs, abs, sftp, ...) are not compiled in: each
// pulls a cloud SDK into the binary, and S3-compatible storage is offered
// by every provider.
func parseReplicaURL(raw string) (replicaURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return replicaURL{}, fmt.Errorf("invalid replica URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return replicaURL{}, fmt.Errorf("invalid replica URL %q: a file URL has no host; use file:///absolute/dir (three slashes)", raw)
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return replicaURL{}, fmt.Errorf("invalid replica URL %q: use an absolute directory, e.g. file:///var/backups/pocketguest", raw)
		}
		if u.RawQuery != "" {
			return replicaURL{}, fmt.Errorf("invalid replica URL %q: a file URL takes no query parameters", raw)
		}
	case "s3":
		if u.Host == "" {
			return replicaURL{}, fmt.Errorf("invalid replica URL %q: the bucket is missing (s3://bucket/path)", raw)
		}
		if u.User != nil {
			return replicaURL{}, fmt.Errorf("invalid replica URL: credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
	case "":
		return replicaURL{}, fmt.Errorf("invalid replica URL %q: the scheme is missing (file:///dir or s3://bucket/path)", raw)
	default:
		return replicaURL{}, fmt.Errorf("invalid replica URL %q: unsupported scheme %q (file:///dir or s3://bucket/path)", raw, u.Scheme)
	}
	return replicaURL{u: u}, nil
}

// String is the URL without its query (endpoint options may carry
// provider-specific keys such as an SSE-C key): safe for logs and the
// health view.
func (r replicaURL) String() string {
	c := *r.u
	c.RawQuery = ""
	return c.String()
}

// client returns a Litestream replica client for one database, in its own
// folder under the URL's path. The client is not initialised.
func (r replicaURL) client(dbName string) (litestream.ReplicaClient, error) {
	switch r.u.Scheme {
	case "file":
		return file.NewReplicaClient(filepath.Join(r.u.Path, dbName)), nil
	default: // s3, validated by parseReplicaURL
		return s3.NewReplicaClientFromURL("s3", r.u.Host,
			litestream.CleanReplicaURLPath(path.Join(r.u.Path, dbName)), r.u.Query(), nil)
	}
}
