package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/local"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// runFlags is everything `run` accepts; one struct, no globals, so tests can run the command twice
// in one process.
type runFlags struct {
	endpoint     string
	function     string
	qualifier    string
	region       string
	tenants      int
	invocations  int
	concurrency  int
	schedules    []string
	seed         int64
	checks       []string
	skip         []string
	formats      []string
	outs         []string
	fnTimeout    time.Duration
	timeouts     runner.Timeouts
	deployTimout time.Duration
	target       targetFlags
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the suite against a target (default: the built-in local target)",
		Long: `Deploys the probe (unless --function names one), fires interleaved multi-tenant invocations,
judges every selected check and prints a table. Exit codes: 0 no MUST check failed, errored or was
inconclusive; 1 a MUST check failed; 2 inconclusive, errors, nothing run, usage error or tool failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint-url", "", "Lambda-compatible endpoint to test (default: start the built-in target in-process)")
	fl.StringVar(&f.function, "function", "", "use this already deployed probe function instead of deploying one")
	fl.StringVar(&f.qualifier, "qualifier", "", "version or alias of --function to invoke")
	fl.StringVar(&f.region, "region", "us-east-1", "AWS region")
	fl.IntVar(&f.tenants, "tenants", 6, "fresh random tenants per run (adversarial pairs are added on top)")
	fl.IntVar(&f.invocations, "invocations", 600, "invocations in total, across all schedules")
	fl.IntVar(&f.concurrency, "concurrency", 4, "invocations in flight for concurrent schedules")
	fl.StringSliceVar(&f.schedules, "schedule", runner.AllSchedules(), "schedules to run, in order")
	fl.Int64Var(&f.seed, "seed", 0, "seed for tenants and interleaving (default: random; printed for replay)")
	fl.StringSliceVar(&f.checks, "checks", nil, "only these check IDs or areas")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these check IDs or areas")
	fl.StringArrayVar(&f.formats, "format", nil, "extra report format: json or junit (repeatable, paired in order with --out)")
	fl.StringArrayVar(&f.outs, "out", nil, "file for the matching --format")
	fl.DurationVar(&f.fnTimeout, "function-timeout", time.Second, "timeout of the deployed probe function (the errors schedule waits it out)")
	fl.DurationVar(&f.timeouts.Invoke, "invoke-timeout", 30*time.Second, "timeout of one invocation, retries included")
	fl.DurationVar(&f.timeouts.Phase, "phase-timeout", 2*time.Minute, "timeout of one schedule")
	fl.DurationVar(&f.timeouts.AsyncReport, "async-report-timeout", 10*time.Second, "how long to wait for an Event invocation's report")
	fl.DurationVar(&f.deployTimout, "deploy-timeout", 5*time.Minute, "timeout for deploying the probe and waiting until it is Active")
	f.target.register(cmd)
	return cmd
}

type output struct{ format, path string }

// outputs pairs --format with --out in order. A single --format without --out replaces the table
// on stdout.
func (f *runFlags) outputs() ([]output, error) {
	for _, fm := range f.formats {
		if fm != "json" && fm != "junit" && fm != "table" {
			return nil, usageError("--format %q: want json, junit or table", fm)
		}
	}
	if len(f.outs) == 0 && len(f.formats) == 1 {
		return []output{{format: f.formats[0]}}, nil
	}
	if len(f.outs) != len(f.formats) {
		return nil, usageError("%d --format and %d --out flags: give one --out per --format, in order", len(f.formats), len(f.outs))
	}
	outs := make([]output, len(f.formats))
	for i := range f.formats {
		outs[i] = output{format: f.formats[i], path: f.outs[i]}
	}
	return outs, nil
}

func runRun(cmd *cobra.Command, f *runFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	outs, err := f.outputs()
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("seed") {
		f.seed = rand.Int64N(1<<53) + 1
	}
	if err := f.validate(cmd); err != nil {
		return err
	}
	checks, err := suites.Select(suites.All(), f.checks, f.skip)
	if err != nil {
		return usageError("%w", err)
	}
	rep, runErr := f.execute(cmd.Context(), checks, stderr)
	if rep == nil {
		return runErr
	}
	rep.Replay = replayCommand(cmd.Flags(), f.seed)
	if err := writeOutputs(stdout, outs, rep); err != nil {
		runErr = multierror.Append(runErr, err)
	}
	switch {
	case rep.Summary.ExitCode == ExitFail:
		// A failed MUST check outranks a cleanup problem: the verdict is already FAIL.
		if runErr != nil {
			fmt.Fprintln(stderr, "tenantcheck:", runErr)
		}
		return &exitError{code: ExitFail}
	case runErr != nil:
		return &exitError{code: ExitIncomplete, err: runErr}
	case rep.Summary.ExitCode != ExitOK:
		return &exitError{code: rep.Summary.ExitCode}
	}
	return nil
}

// execute is one whole run: stand up the target, deploy the probe, run the schedules, judge, and
// take down everything it created, whatever happened in between.
func (f *runFlags) execute(ctx context.Context, checks []suites.Check, stderr io.Writer) (rep *reports.Report, retErr error) {
	endpoint := f.endpoint
	if endpoint == "" {
		cfg, err := f.target.config("127.0.0.1:0", f.seed)
		if err != nil {
			return nil, err
		}
		srv, err := local.New(cfg)
		if err != nil {
			return nil, usageError("built-in target: %w", err)
		}
		if err := srv.Start(); err != nil {
			return nil, toolError("start built-in target: %w", err)
		}
		defer func() {
			if err := srv.Close(); err != nil {
				retErr = multierror.Append(retErr, toolError("stop built-in target: %w", err))
			}
		}()
		endpoint = srv.Endpoint()
	}
	fmt.Fprintf(stderr, "tenantcheck: target %s, seed %d\n", endpoint, f.seed)

	client, err := runner.NewLambdaClient(ctx, endpoint, f.region, runner.ClientOptions{AdaptiveRetry: f.endpoint != "" && !runner.IsLoopback(f.endpoint)})
	if err != nil {
		return nil, toolError("lambda client: %w", err)
	}
	function := f.function
	if function == "" {
		d, err := f.deploy(ctx, client, stderr)
		if err != nil {
			return nil, toolError("%w", err)
		}
		defer func() {
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := probefn.Teardown(tctx, client, d); err != nil {
				retErr = multierror.Append(retErr, toolError("teardown (function %s left behind): %w", d.ARN, err))
			}
		}()
		function = d.Name
	}

	info := runner.TargetInfo{Endpoint: endpoint, Function: function}
	if iso, err := runner.FetchIsolation(ctx, endpoint); err != nil {
		fmt.Fprintf(stderr, "tenantcheck: warning: %v; assuming full isolation is claimed\n", err)
	} else {
		info.Isolation = iso
	}
	opts := runner.Options{
		Function:    function,
		Qualifier:   f.qualifier,
		Tenants:     f.tenants,
		Invocations: f.invocations,
		Concurrency: f.concurrency,
		Schedules:   f.schedules,
		Seed:        f.seed,
		Timeouts:    f.timeouts,
		ReportSink:  runner.IsLoopback(endpoint),
		Progress:    runner.NewProgress(stderr),
	}
	inv := runner.Retrying(&runner.LambdaInvoker{Client: client}, runner.RetryPolicy{})
	start := time.Now()
	obs, err := runner.Run(ctx, inv, opts)
	if err != nil {
		return nil, toolError("run: %w", err)
	}
	obs.Target.Endpoint, obs.Target.Isolation = info.Endpoint, info.Isolation
	results := suites.Evaluate(checks, obs)
	results = append(results, suites.Skipped(suites.Complement(suites.All(), checks), "deselected by --checks/--skip")...)
	label := endpoint
	if f.endpoint == "" {
		label = "built-in"
	}
	return &reports.Report{
		SchemaVersion: reports.SchemaVersion,
		Tool:          "tenantcheck",
		ToolVersion:   toolVersion(),
		RunID:         obs.RunID,
		Seed:          f.seed,
		Target:        label,
		Function:      function,
		Started:       start.UTC(),
		Elapsed:       time.Since(start),
		Power:         suites.Power(obs),
		Checks:        results,
		Summary:       reports.Summarize(results),
	}, nil
}

func toolError(format string, args ...any) error {
	return &exitError{code: ExitIncomplete, err: fmt.Errorf(format, args...)}
}

func (f *runFlags) validate(cmd *cobra.Command) error {
	switch {
	case f.tenants < 2:
		return usageError("--tenants %d: need at least 2 fresh tenants to test isolation between them", f.tenants)
	case f.invocations < 1:
		return usageError("--invocations %d: must be positive", f.invocations)
	case f.concurrency < 1:
		return usageError("--concurrency %d: must be positive", f.concurrency)
	case f.fnTimeout < time.Second:
		return usageError("--function-timeout %s: Lambda's minimum is 1s", f.fnTimeout)
	}
	if f.endpoint != "" && (cmd.Flags().Changed("fault") || cmd.Flags().Changed("max-environments") || cmd.Flags().Changed("idle-timeout")) {
		return usageError("--fault, --max-environments and --idle-timeout configure the built-in target; they cannot apply to --endpoint-url %s", f.endpoint)
	}
	if f.endpoint != "" && !strings.HasPrefix(f.endpoint, "http://") && !strings.HasPrefix(f.endpoint, "https://") {
		return usageError("--endpoint-url %q: want an http:// or https:// URL", f.endpoint)
	}
	if err := runner.ValidateSchedules(f.schedules); err != nil {
		return usageError("--schedule: %w", err)
	}
	return nil
}

func (f *runFlags) deploy(ctx context.Context, client *lambda.Client, stderr io.Writer) (*probefn.Deployment, error) {
	dctx, cancel := context.WithTimeout(ctx, f.deployTimout)
	defer cancel()
	t0 := time.Now()
	zip, err := probefn.SelfZip("")
	if err != nil {
		return nil, fmt.Errorf("package probe: %w", err)
	}
	d, err := probefn.Deploy(dctx, client, probefn.Spec{
		Zip:       zip,
		Timeout:   f.fnTimeout,
		PerTenant: true,
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "tenantcheck: deployed probe %s (%d KB zip) in %s\n", d.Name, len(zip)/1024, time.Since(t0).Round(time.Millisecond))
	return d, nil
}

// replayCommand rebuilds the command line from the flags the user set, with the seed pinned and
// the output flags dropped (a replay should not overwrite the original reports).
func replayCommand(fl *pflag.FlagSet, seed int64) string {
	parts := []string{"tenantcheck", "run"}
	var names []string
	fl.Visit(func(p *pflag.Flag) { names = append(names, p.Name) })
	sort.Strings(names)
	for _, n := range names {
		if n == "seed" || n == "format" || n == "out" {
			continue
		}
		p := fl.Lookup(n)
		val := p.Value.String()
		if sv, ok := p.Value.(pflag.SliceValue); ok {
			val = strings.Join(sv.GetSlice(), ",")
		}
		parts = append(parts, fmt.Sprintf("--%s=%s", n, shellQuote(val)))
	}
	parts = append(parts, fmt.Sprintf("--seed=%d", seed))
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == ',' || r == ':' || r == '/' || r == '=' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeOutputs(stdout io.Writer, outs []output, rep *reports.Report) error {
	tableToStdout := true
	var errs error
	for _, o := range outs {
		if o.path == "" {
			tableToStdout = false
			if err := reports.Write(o.format, stdout, rep); err != nil {
				errs = multierror.Append(errs, fmt.Errorf("write %s report: %w", o.format, err))
			}
			continue
		}
		if err := writeFile(o.path, o.format, rep); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	if tableToStdout {
		if err := reports.WriteTable(stdout, rep); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("write table: %w", err))
		}
	}
	return errs
}

func writeFile(path, format string, rep *reports.Report) (err error) {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s report %s: %w", format, path, err)
	}
	defer func() {
		if cerr := fh.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	if err := reports.Write(format, fh, rep); err != nil {
		return fmt.Errorf("write %s report %s: %w", format, path, err)
	}
	return nil
}
