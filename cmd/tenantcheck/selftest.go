package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// selftestFlags measure the suite itself: how often a healthy target is wrongly failed, and how
// often a recycle fault of a given rate is caught compared with the power the runs predicted.
type selftestFlags struct {
	run       runFlags
	runs      int
	powerRuns int
	rates     []float64
	firstSeed int64
	checks    []string
}

// selftestRow is one line of the self-test table.
type selftestRow struct {
	scenario  string
	runs      int
	failed    int
	unsure    int
	predicted float64 // mean predicted detection probability, for fault rows
	elapsed   time.Duration
}

func newSelftestCmd() *cobra.Command {
	st := &selftestFlags{}
	cmd := &cobra.Command{
		Use:   "selftest",
		Short: "Measure the suite: false positives on the healthy target, detection power against recycle faults",
		Long: `Runs the suite many times against the built-in target. First --runs seeded runs against the
healthy target: every FAIL is a false positive. Then, for each --rates value, --power-runs runs against
the target with the recycle fault at that rate: the share of runs that FAILed is the measured detection
rate, shown beside the mean detection probability the runs predicted from their opportunity counts.
Exit 1 if any healthy run FAILed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSelftest(cmd, st) },
	}
	fl := cmd.Flags()
	d := runner.DefaultSettings()
	fl.IntVar(&st.runs, "runs", 100, "seeded runs against the healthy target")
	fl.IntVar(&st.powerRuns, "power-runs", 40, "runs per recycle rate")
	fl.Float64SliceVar(&st.rates, "rates", []float64{0.05, 0.01}, "recycle fault rates to measure")
	fl.Int64Var(&st.firstSeed, "seed", 1, "seed of the first run; run i uses seed+i")
	fl.IntVar(&st.run.invocations, "invocations", d.Invocations, "invocations per run")
	fl.IntVar(&st.run.tenants, "tenants", d.Tenants, "fresh tenants per run")
	fl.IntVar(&st.run.concurrency, "concurrency", d.Concurrency, "invocations in flight for concurrent schedules")
	fl.StringSliceVar(&st.run.schedules, "schedule", nil, "schedules (default: all)")
	fl.StringVar(&st.run.probeBinary, "probe-binary", "", "deploy this tenantcheck binary as the probe instead of the running one")
	fl.StringSliceVar(&st.checks, "checks", []string{suites.AreaIsolation}, "check IDs or areas judged in every run (the recycle fault is an isolation fault)")
	return cmd
}

func runSelftest(cmd *cobra.Command, st *selftestFlags) error {
	switch {
	case st.runs < 0 || st.powerRuns < 0:
		return usageError("--runs and --power-runs must not be negative")
	case st.run.invocations < 1 || st.run.tenants < 2 || st.run.concurrency < 1:
		return usageError("--invocations, --tenants (at least 2) and --concurrency must be positive")
	}
	for _, r := range st.rates {
		if r <= 0 || r > 1 {
			return usageError("--rates %v: each rate must be in (0, 1]", r)
		}
	}
	checks, err := suites.Select(suites.All(), st.checks, nil)
	if err != nil {
		return usageError("--checks: %w", err)
	}
	out := cmd.OutOrStdout()
	var rows []selftestRow
	seed := st.firstSeed
	measure := func(scenario string, n int, faults []string, rate float64) error {
		row := selftestRow{scenario: scenario, runs: n}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			f := st.runFlags(seed, faults, rate)
			seed++
			rep, err := f.execute(cmd.Context(), checks, io.Discard, runner.RunInfo{Tool: "tenantcheck", ToolVersion: toolVersion(), Seed: f.seed})
			if err != nil {
				return fmt.Errorf("%s run %d (seed %d): %w", scenario, i+1, f.seed, err)
			}
			switch rep.Summary.ExitCode {
			case ExitFail:
				row.failed++
			case ExitIncomplete:
				row.unsure++
			}
			row.predicted += reports.DetectProbability(rep.Power.Opportunities, rate)
			fmt.Fprintf(cmd.ErrOrStderr(), "selftest: %s run %d/%d seed %d: %s (%d opportunities)\n",
				scenario, i+1, n, f.seed, rep.Summary.Verdict, rep.Power.Opportunities)
		}
		if n > 0 {
			row.predicted /= float64(n)
		}
		row.elapsed = time.Since(t0)
		rows = append(rows, row)
		return nil
	}
	if err := measure("healthy", st.runs, nil, 0); err != nil {
		return toolError("%w", err)
	}
	for _, r := range st.rates {
		if err := measure(fmt.Sprintf("recycle %.4g%%", r*100), st.powerRuns, []string{"recycle"}, r); err != nil {
			return toolError("%w", err)
		}
	}
	if err := writeSelftestTable(out, rows); err != nil {
		return toolError("write self-test table: %w", err)
	}
	if len(rows) > 0 && rows[0].scenario == "healthy" && rows[0].failed > 0 {
		return &exitError{code: ExitFail, err: fmt.Errorf("%d false positive(s) in %d healthy runs", rows[0].failed, rows[0].runs)}
	}
	return nil
}

// runFlags are the flags of one measured run: the defaults table wherever selftest has no flag
// of its own, so a measured run is the run a user gets.
func (st *selftestFlags) runFlags(seed int64, faults []string, rate float64) *runFlags {
	d := runner.DefaultSettings()
	f := st.run
	f.seed = seed
	f.aws.region = "us-east-1"
	f.fnTimeout = d.FunctionTimeout
	f.deployTimout = 2 * time.Minute
	f.timeouts = runner.Timeouts{Invoke: d.Invoke, AsyncReport: d.AsyncReportSink}
	f.logsWait = d.LogsWait
	f.target = targetFlags{faults: faults, faultRate: rate, maxEnvironments: d.MaxEnvironments, idleTimeout: d.IdleTimeout, spares: d.SpareEnvironments}
	return &f
}

func writeSelftestTable(w io.Writer, rows []selftestRow) error {
	t := tablewriter.NewWriter(w)
	t.Header("SCENARIO", "RUNS", "FAIL", "INCONCLUSIVE/ERROR", "MEASURED FAIL RATE", "PREDICTED DETECTION", "WALL TIME")
	for _, r := range rows {
		pred := "-"
		if r.scenario != "healthy" {
			pred = fmt.Sprintf("%.1f%%", r.predicted*100)
		}
		rate := "-"
		if r.runs > 0 {
			rate = fmt.Sprintf("%.1f%%", float64(r.failed)*100/float64(r.runs))
		}
		if err := t.Append(r.scenario, strconv.Itoa(r.runs), strconv.Itoa(r.failed), strconv.Itoa(r.unsure), rate, pred, r.elapsed.Round(time.Second).String()); err != nil {
			return err
		}
	}
	return t.Render()
}
