package anonauth

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"
)

// Command returns the `anonymous` command for operators, to add to the
// app's root command (as migratecmd does):
//
//	app.RootCmd.AddCommand(guests.Command())
//
// Subcommands:
//
//	anonymous cleanup [--max-age 720h] [--empty-max-age 24h] [--dry-run] [--batch 50] [--collection users]
//
// cleanup deletes the guests inactive for longer than --max-age (default
// Config.MaxAge, or 30 days when the automatic cleanup is disabled), and
// those that own nothing inactive for longer than --empty-max-age (default
// Config.EmptyMaxAge; 0 turns it off), exactly as the cron job does: small transactions, re-checked guests, audited
// deletions. It is safe to run while the server serves: the server's
// sign-ins wait for one batch at most, and a guest the server sees active
// or converted meanwhile is skipped. It prints progress and a summary
// (found, deleted, skipped). Ctrl-C stops it after the current batch.
//
// PocketBase's Execute discards a command's error (the process exits 0), so
// an operator's script could not tell a failed cleanup from a done one: the
// binary's main calls CommandError after app.Start and exits 1 when it is
// set. Do the same in your own main.
func (p *Plugin) Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "anonymous",
		Short: "Manage anonymous (guest) accounts",
	}
	root.AddCommand(p.cleanupCommand())
	return root
}

// CommandError returns the error of the last `anonymous ...` command run in
// this process, or nil (see Command).
func (p *Plugin) CommandError() error {
	err, _ := p.commandErr.Load().(error)
	return err
}

func (p *Plugin) cleanupCommand() *cobra.Command {
	var (
		maxAge      time.Duration
		emptyMaxAge time.Duration
		dryRun      bool
		batch       int
		collections []string
	)

	defaultAge := p.config.MaxAge
	if defaultAge <= 0 {
		defaultAge = DefaultMaxAge
	}

	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete guests inactive for longer than --max-age",
		Example: "  pocketguest anonymous cleanup --dry-run\n" +
			"  pocketguest anonymous cleanup --max-age 720h --batch 200",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			defer func() {
				if err != nil {
					p.commandErr.Store(err)
				}
			}()
			if maxAge <= 0 {
				return fmt.Errorf("--max-age must be positive, got %s", maxAge)
			}
			if batch <= 0 {
				return fmt.Errorf("--batch must be positive, got %d", batch)
			}

			// The schema (lastSeen, indexes) may not exist yet if this
			// binary has not served since it was upgraded.
			if err := p.EnsureSchema(p.app); err != nil {
				return err
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()

			out := cmd.OutOrStdout()
			progress := newProgressPrinter(out, dryRun)
			if emptyMaxAge == 0 {
				emptyMaxAge = -1 // the flag's 0 is "off"; CleanupOptions' is "the default"
			}
			res, err := p.Cleanup(ctx, CleanupOptions{
				MaxAge:      maxAge,
				EmptyMaxAge: emptyMaxAge,
				BatchSize:   batch,
				DryRun:      dryRun,
				Collections: collections,
				Progress:    progress.update,
			})
			progress.finish()

			if dryRun {
				fmt.Fprintf(out, "dry run: found %d guests inactive for more than %s; nothing was deleted (%s)\n",
					res.Found, maxAge, res.Elapsed.Round(time.Millisecond))
			} else {
				fmt.Fprintf(out, "found %d, deleted %d, skipped %d guests inactive for more than %s (%s, longest transaction %s)\n",
					res.Found, res.Deleted, res.Skipped, maxAge, res.Elapsed.Round(time.Millisecond), res.LongestBatch.Round(time.Millisecond))
				if emptyMaxAge > 0 {
					fmt.Fprintf(out, "of which %d owned nothing and were inactive for more than %s\n", res.DeletedEmpty, emptyMaxAge)
				}
			}
			if err == context.Canceled {
				return fmt.Errorf("interrupted; run it again to continue")
			}
			return err
		},
	}

	// cmd.Context() is nil when the command is run without ExecuteContext
	// (PocketBase's RootCmd.Execute); NotifyContext needs a parent.
	cmd.PreRun = func(cmd *cobra.Command, args []string) {
		if cmd.Context() == nil {
			cmd.SetContext(context.Background())
		}
	}

	cmd.Flags().DurationVar(&maxAge, "max-age", defaultAge, "delete guests whose last activity is older than this")
	cmd.Flags().DurationVar(&emptyMaxAge, "empty-max-age", max(p.config.EmptyMaxAge, 0), "also delete guests that own nothing and are inactive for longer than this; 0 = off")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only count the stale guests, delete nothing")
	cmd.Flags().IntVar(&batch, "batch", p.config.CleanupBatchSize, "guests deleted per transaction")
	cmd.Flags().StringSliceVar(&collections, "collection", nil, "limit to these collections (default: every enabled collection)")

	return cmd
}

// progressPrinter shows "users: 1200/5000 deleted, 3 skipped" on one line
// that rewrites itself on a terminal, or a line per ~10 % otherwise (logs).
type progressPrinter struct {
	out      io.Writer
	dryRun   bool
	tty      bool
	last     CleanupProgress
	lastPct  int
	printed  bool
	lastDraw time.Time
}

func newProgressPrinter(out io.Writer, dryRun bool) *progressPrinter {
	tty := false
	if f, ok := out.(*os.File); ok {
		if info, err := f.Stat(); err == nil {
			tty = info.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressPrinter{out: out, dryRun: dryRun, tty: tty, lastPct: -10}
}

func (pp *progressPrinter) update(pr CleanupProgress) {
	if pr.Collection != pp.last.Collection && pp.printed && pp.tty {
		fmt.Fprintln(pp.out)
	}
	pp.last = pr
	if pp.dryRun || pr.Found == 0 {
		return // the summary says it all
	}

	done := pr.Deleted + pr.Skipped
	pct := done * 100 / pr.Found
	line := fmt.Sprintf("%s: %d/%d processed (%d%%), %d deleted, %d skipped", pr.Collection, done, pr.Found, pct, pr.Deleted, pr.Skipped)

	if pp.tty {
		if time.Since(pp.lastDraw) < 100*time.Millisecond && done < pr.Found {
			return
		}
		pp.lastDraw = time.Now()
		fmt.Fprintf(pp.out, "\r\033[K%s", line)
		pp.printed = true
		return
	}
	if pct/10 != pp.lastPct/10 || done >= pr.Found {
		pp.lastPct = pct
		fmt.Fprintln(pp.out, line)
	}
}

func (pp *progressPrinter) finish() {
	if pp.tty && pp.printed {
		fmt.Fprintln(pp.out)
	}
}
