package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/pocketguest/pocketguest/internal/devserver"
)

// starterPagePath is the login page of PocketPages' auth starter
// (../shared/pocketpages-starters/auth): a page with five includes and
// three pb().collection('users').listAuthMethods() calls, rendered for an
// anonymous visitor.
const starterPagePath = "/auth/login"

// starterPage runs the "auth starter login page, anonymous" row: the
// starter served where it stands (its own pb_hooks/pages, +config.js and
// migrations; no --hooksDir/--templatesDir), as a PocketPages user would
// run it.
func (b *bench) starterPage(ctx context.Context) error {
	row := &b.rep.starter
	root, err := devserver.ModuleRoot()
	if err != nil {
		return err
	}
	fixture := filepath.Join(root, "..", "shared", "pocketpages-starters", "auth")
	if _, err := os.Stat(fixture); err != nil {
		row.unavailable = "the PocketPages starters are not at " + filepath.Dir(fixture)
		b.logf("row %q: not available: %s", row.label, row.unavailable)
		return nil
	}

	project := filepath.Join(b.tmp, "starter")
	if err := devserver.CopyDir(fixture, project); err != nil {
		return err
	}
	defer os.RemoveAll(project)
	d := serverDirs{data: filepath.Join(project, "pb_data"), pprofAddr: b.pprofAddr}
	if _, err := b.bin.run(ctx, d.data, "superuser", "upsert", benchSuperuserEmail, benchSuperuserPassword); err != nil {
		return err
	}
	s, err := startServer(ctx, b.bin, d)
	if err != nil {
		return err
	}
	defer s.stop()

	code, body, err := probe(s, http.MethodGet, starterPagePath)
	if err != nil {
		return err
	}
	if code != http.StatusOK || !bytes.Contains([]byte(body), []byte("<h2>Login</h2>")) {
		row.unavailable = fmt.Sprintf("GET %s answered %d (the starter's plugins are not built in?): %.200s", starterPagePath, code, body)
		b.logf("row %q: not available: %s", row.label, row.unavailable)
		return nil
	}

	b.logf("row %q: %s warm-up + %s at %d clients", row.label, b.cfg.Warmup, b.cfg.Duration, b.cfg.Concurrency)
	l := load{
		target: target(s, http.MethodGet, starterPagePath),
		check:  checkStarterPage,
	}
	l.name, l.concurrency, l.warmup, l.duration = row.label, b.cfg.Concurrency, b.cfg.Warmup, b.cfg.Duration
	l.serverCPU = s.cpuTime
	l.onMeasure = b.profiler("starter")
	row.st = l.run()
	row.ran = true
	b.logf("  %s", row.st.summary())
	return nil
}

func checkStarterPage(res *vegeta.Result) error {
	if res.Code != http.StatusOK || !bytes.Contains(res.Body, []byte("<h3>Anonymous Login</h3>")) {
		return fmt.Errorf("status %d without the login page: %.200s", res.Code, res.Body)
	}
	return nil
}
