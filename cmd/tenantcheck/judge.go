package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// judgeFlags are `judge`'s: the selection and output flags of `run`, nothing that reaches a
// target.
type judgeFlags struct {
	checks, skip  []string
	formats, outs []string
}

func newJudgeCmd() *cobra.Command {
	f := &judgeFlags{}
	cmd := &cobra.Command{
		Use:   "judge FILE",
		Short: "Judge a saved observations file (run --observations) again, offline, with the current checks",
		Long: `Reads the observations file a run streamed (run --observations FILE) and judges it again with
this tenantcheck's checks, without touching any target: a saved audit run can be re-read later, or
judged by a newer release. The reports and exit codes follow run's rules; the JSON report is the
one run wrote, apart from timing. A file cut short by a run that broke half-way is judged too:
its checks may FAIL on what was seen but never PASS.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runJudge(cmd, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.checks, "checks", nil, "only these check IDs or areas (default: those the run selected)")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these check IDs or areas")
	fl.StringArrayVar(&f.formats, "format", nil, formatFlagHelp())
	fl.StringArrayVar(&f.outs, "out", nil, "file for the matching --format")
	return cmd
}

func runJudge(cmd *cobra.Command, f *judgeFlags, path string) error {
	outs, err := (&runFlags{formats: f.formats, outs: f.outs}).outputs()
	if err != nil {
		return err
	}
	fh, err := os.Open(path)
	if err != nil {
		return usageError("judge: %w", err)
	}
	defer fh.Close()
	rec, err := runner.ReadRecord(fh)
	if err != nil {
		return usageError("judge %s: %w", path, err)
	}
	include := f.checks
	if len(include) == 0 {
		include = rec.Info.Checks // the run's own selection
	}
	checks, err := suites.Select(suites.All(), include, f.skip)
	if err != nil {
		return usageError("%w", err)
	}
	if !rec.Complete {
		fmt.Fprintf(cmd.ErrOrStderr(), "tenantcheck: %s is incomplete: the run broke before it finished; no check can PASS\n", path)
	}
	rep := buildReport(rec.Info, rec.Obs, suites.Judge(rec.Obs, checks), rec.ReportElapsed)
	return finish(cmd.OutOrStdout(), cmd.ErrOrStderr(), outs, rep, nil)
}
