package reliability

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketguest/pocketguest/internal/devserver"
)

// TestErrorPagesNeedExplicitDevMode: the test binary lives in the temp dir,
// where PocketBase's own guess (osutils.IsProbablyGoRun) turns dev mode on.
// Started without --dev it must still serve production error pages: no
// message, file, source line or stack of the failing template. With an
// explicit --dev (or POCKETGUEST_DEV=true) the details are shown.
func TestErrorPagesNeedExplicitDevMode(t *testing.T) {
	const secret = "secret-detail-of-a-failing-template"

	for _, mode := range []struct {
		name    string
		args    []string
		env     string
		details bool
	}{
		{name: "no flag", details: false},
		{name: "--dev", args: []string{"--dev"}, details: true},
		{name: "POCKETGUEST_DEV=true", env: "POCKETGUEST_DEV=true", details: true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ws := newWorkspace(t)
			if err := os.MkdirAll(ws.templates, 0o755); err != nil {
				t.Fatal(err)
			}
			page := "<h1>shop</h1>\n<% throw new Error('" + secret + "') %>\n"
			if err := os.WriteFile(filepath.Join(ws.templates, "boom.ejs"), []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}

			addr, err := devserver.FreeAddr()
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{
				"serve", "--http=" + addr, "--dir=" + ws.data, "--automigrate=false", "--hooksWatch=false",
				"--hooksDir=" + ws.hooks, "--migrationsDir=" + ws.migrations, "--templatesDir=" + ws.templates,
			}, mode.args...)
			env := childEnv()
			if mode.env != "" {
				env = append(env, mode.env)
			}
			proc, err := devserver.Start(devserver.Options{Binary: binPath, Dir: ws.dir, Args: args, Env: env})
			if err != nil {
				t.Fatal(err)
			}
			defer proc.Kill()
			if err := proc.WaitHealthy("http://"+addr, 60*time.Second); err != nil {
				t.Fatalf("%v\n%s", err, proc.Log.Tail(40))
			}

			res, err := http.Get("http://" + addr + "/boom")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body strings.Builder
			if _, err := io.Copy(&body, res.Body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusInternalServerError {
				t.Fatalf("want 500, got %d", res.StatusCode)
			}
			shown := strings.Contains(body.String(), secret) || strings.Contains(body.String(), "boom.ejs")
			if shown != mode.details {
				t.Fatalf("error details shown=%v, want %v:\n%s", shown, mode.details, body.String())
			}
		})
	}
}
