package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
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

	useAWS      bool
	aws         awsFlags
	arch        string
	dryRun      bool
	s3Endpoint  string
	stsEndpoint string
	logsWait    time.Duration
	noBuild     bool
	// s3Faults are the --fault values that belong to the S3 broker, not the target.
	s3Faults []string
	// probeBinary, when set, is deployed as the probe instead of this executable.
	probeBinary string
	// role is the execution role for functions the contract phase creates.
	role string
	// asyncChannel is --async-channel: auto, sink, logs or none.
	asyncChannel string
	// runID names the stack `run --aws` deploys (default: a fresh one).
	runID string
	// observations is the file the run's record is streamed to (JSON Lines).
	observations string
	// profileDir receives cpu.pprof and heap.pprof of the run (hidden: for scale work).
	profileDir string
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	d := runner.DefaultSettings()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the suite against a target (default: the built-in target)",
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
	fl.IntVar(&f.tenants, "tenants", d.Tenants, "fresh random tenants per run (adversarial pairs are added on top)")
	fl.IntVar(&f.invocations, "invocations", d.Invocations, "invocations shared by the weighted schedules (the resources schedule adds its own 9)")
	fl.IntVar(&f.concurrency, "concurrency", d.Concurrency, "invocations in flight for concurrent schedules")
	fl.StringSliceVar(&f.schedules, "schedule", runner.AllSchedules(), "schedules to run, in order")
	fl.Int64Var(&f.seed, "seed", 0, "seed for tenants and interleaving (default: random; printed for replay)")
	fl.StringSliceVar(&f.checks, "checks", nil, "only these check IDs or areas")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these check IDs or areas")
	fl.StringArrayVar(&f.formats, "format", nil, formatFlagHelp())
	fl.StringArrayVar(&f.outs, "out", nil, "file for the matching --format")
	fl.DurationVar(&f.fnTimeout, "function-timeout", d.FunctionTimeout, "timeout of the deployed probe function (the errors schedule waits it out)")
	fl.DurationVar(&f.timeouts.Invoke, "invoke-timeout", d.Invoke, "timeout of one invocation, retries included")
	fl.DurationVar(&f.timeouts.Phase, "phase-timeout", 0, fmt.Sprintf("timeout of one schedule (default: %dx the time its measured rate projects for it, at least %s)", runner.PhaseSlack, d.Phase))
	fl.DurationVar(&f.timeouts.AsyncReport, "async-report-timeout", 0, fmt.Sprintf("how long to wait for an Event invocation's report (default %s through the sink, %s through logs)", d.AsyncReportSink, d.AsyncReportLogs))
	fl.DurationVar(&f.timeouts.AsyncRetry, "async-retry-wait", 0, fmt.Sprintf("how long to wait, after the errors schedule, for the target to retry the failed Event invocations (TI-API-013); ends when every retry arrived (default: the delays a target declares plus the report timeout, else %s: Lambda retries after about 1 and 2 minutes)", d.AsyncRetryWait))
	fl.StringVar(&f.asyncChannel, "async-channel", "auto", "how Event invocations report back: sink (loopback HTTP; local targets), logs (CloudWatch Logs FilterLogEvents), none (async checks SKIP), or auto (sink on loopback, logs with --aws, none otherwise)")
	fl.DurationVar(&f.deployTimout, "deploy-timeout", d.Deploy, "timeout for deploying the probe and waiting until it is Active")
	fl.BoolVar(&f.useAWS, "aws", false, "test a real AWS account: deploy the probe stack, run, tear down (see docs/AWS.md)")
	f.aws.register(cmd)
	fl.StringVar(&f.runID, "run-id", "", "with --aws: run ID of the stack to deploy (default: date and random suffix)")
	fl.StringVar(&f.arch, "arch", "arm64", "with --aws: Lambda architecture of the probe, arm64 or x86_64")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what the run would create and how many invocations it would make, then exit")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3 service for the s3 area (default: a local SeaweedFS started for the run; with --aws: AWS)")
	fl.StringVar(&f.stsEndpoint, "sts-endpoint", "", "STS service for the s3 area (default: the --s3-endpoint)")
	fl.DurationVar(&f.logsWait, "logs-wait", d.LogsWait, fmt.Sprintf("how long to wait for log ingestion before judging the logs area (default %s with --aws, where ingestion lags)", d.LogsWaitAWS))
	fl.StringVar(&f.role, "role", "", "execution role ARN for the functions the contract phase creates (needed on AWS with --function; --aws without --function uses the deployed stack's)")
	fl.StringVar(&f.probeBinary, "probe-binary", "", "deploy this tenantcheck binary as the probe instead of the running one (e.g. a linux build for another CPU)")
	fl.BoolVar(&f.noBuild, "no-build", false, "never build SeaweedFS: if it is not built yet, the s3 area reports SKIP")
	fl.StringVar(&f.observations, "observations", "", "stream everything the run observes to this file (JSON Lines, docs/OBSERVATIONS.md) for `tenantcheck judge`")
	fl.StringVar(&f.profileDir, "profile-dir", "", "write cpu.pprof (the whole run) and heap.pprof (live memory once judged) of this process here")
	_ = fl.MarkHidden("profile-dir")
	f.target.register(cmd)
	return cmd
}

type output struct{ format, path string }

// formatFlagHelp is the --format help of run and judge, listing every format of reports'
// registry so the help never names only some of them.
func formatFlagHelp() string {
	return "extra report format, one of: " + reports.FormatHelp() + " (repeatable, paired in order with --out)"
}

// outputs pairs --format with --out in order. A single --format without --out replaces the table
// on stdout.
func (f *runFlags) outputs() ([]output, error) {
	for _, fm := range f.formats {
		if _, err := reports.LookupFormat(fm); err != nil {
			return nil, usageError("--format: %w", err)
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
	if f.dryRun {
		return f.printPlan(cmd.Context(), stdout, checks)
	}
	info := runner.RunInfo{Tool: "tenantcheck", ToolVersion: toolVersion(), Seed: f.seed, Replay: replayCommand(cmd.Flags(), f.seed)}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit, so the collector works harder before the heap doubles past it instead of
		// after: the deploy holds the probe package three times over (zip, request, decoded) for
		// a moment, and that moment was the run's peak. Live data beyond it is still allowed.
		debug.SetMemoryLimit(runMemoryLimit)
	}
	if f.profileDir != "" {
		stop, err := startProfiles(f.profileDir)
		if err != nil {
			return toolError("--profile-dir: %w", err)
		}
		defer stop(stderr)
	}
	rep, runErr := f.execute(cmd.Context(), checks, stderr, info)
	if rep == nil {
		return runErr
	}
	if rep.Elapsed >= time.Minute {
		sayCost(stderr, rep.Elapsed)
	}
	return finish(stdout, stderr, outs, rep, runErr)
}

// runMemoryLimit is the soft memory limit of `run` unless GOMEMLIMIT says otherwise.
const runMemoryLimit = 100 << 20

// sayCost tells the user of a long run what it cost this machine: its time, and the memory this
// process (the runner and an in-process target; the environments are processes of their own)
// held at its peak, the figure that decides whether 10,000 tenants fit.
func sayCost(w io.Writer, elapsed time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return
	}
	fmt.Fprintf(w, "tenantcheck: run took %s; this process peaked at %d MB resident, %.0f s of CPU (environments not included)\n",
		elapsed.Round(time.Second), ru.Maxrss/1024,
		time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds())
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
	case f.timeouts.Phase < 0:
		return usageError("--phase-timeout %s: must not be negative", f.timeouts.Phase)
	case f.fnTimeout < time.Second:
		return usageError("--function-timeout %s: Lambda's minimum is 1s", f.fnTimeout)
	}
	names, err := knownFaults().Validate(f.target.faults)
	if err != nil {
		return usageError("--fault: %w", err)
	}
	var targetFaults []string
	f.s3Faults = nil
	for _, name := range names {
		if s3data.IsFault(name) {
			f.s3Faults = append(f.s3Faults, name)
		} else {
			targetFaults = append(targetFaults, name)
		}
	}
	f.target.faults = targetFaults
	builtIn := f.endpoint == "" && !f.useAWS
	if !builtIn && (len(targetFaults) > 0 || cmd.Flags().Changed("max-environments") || cmd.Flags().Changed("idle-timeout") || cmd.Flags().Changed("spare-environments")) {
		return usageError("--fault %s, --max-environments, --idle-timeout and --spare-environments configure the built-in target; they cannot apply to --endpoint-url or --aws",
			strings.Join(targetFaults, ","))
	}
	if builtIn && f.s3Endpoint != "" && !runner.IsLoopback(f.s3Endpoint) {
		return usageError("--s3-endpoint %s: the built-in target's environments reach only this machine's loopback (127.0.0.1), so its functions could not reach that service", f.s3Endpoint)
	}
	if f.useAWS && f.endpoint != "" {
		return usageError("--aws and --endpoint-url are exclusive: --aws tests the account your AWS configuration names")
	}
	if f.arch != "arm64" && f.arch != "x86_64" {
		return usageError("--arch %q: want arm64 or x86_64", f.arch)
	}
	if f.runID != "" {
		switch {
		case !f.useAWS:
			return usageError("--run-id names the stack `run --aws` deploys; it has no meaning without --aws")
		case f.function != "":
			return usageError("--run-id and --function are exclusive: --function tenantcheck-<run>-probe already names the run")
		}
		if err := awsstack.ValidateRunID(f.runID); err != nil {
			return usageError("--run-id: %w", err)
		}
	}
	if f.endpoint != "" && !strings.HasPrefix(f.endpoint, "http://") && !strings.HasPrefix(f.endpoint, "https://") {
		return usageError("--endpoint-url %q: want an http:// or https:// URL", f.endpoint)
	}
	if f.useAWS && !cmd.Flags().Changed("logs-wait") {
		f.logsWait = runner.DefaultSettings().LogsWaitAWS
	}
	switch f.asyncChannel {
	case "auto", runner.AsyncChannelSink, runner.AsyncChannelLogs, runner.AsyncChannelNone:
	default:
		return usageError("--async-channel %q: want auto, sink, logs or none", f.asyncChannel)
	}
	if f.asyncChannel == runner.AsyncChannelSink && (f.useAWS || (f.endpoint != "" && !runner.IsLoopback(f.endpoint))) {
		return usageError("--async-channel sink needs a target on this machine: the probe posts to 127.0.0.1; use logs")
	}
	if f.timeouts.AsyncRetry < 0 {
		return usageError("--async-retry-wait %s: must not be negative", f.timeouts.AsyncRetry)
	}
	if f.timeouts.AsyncReport < 0 {
		return usageError("--async-report-timeout %s: must not be negative", f.timeouts.AsyncReport)
	}
	if err := runner.ValidateSchedules(f.schedules); err != nil {
		return usageError("--schedule: %w", err)
	}
	return nil
}

// startProfiles starts a CPU profile into dir/cpu.pprof; the stop it returns ends it and writes
// dir/heap.pprof, saying on w what could not be written.
func startProfiles(dir string) (func(w io.Writer), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		_ = cpu.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func(w io.Writer) {
		pprof.StopCPUProfile()
		if err := cpu.Close(); err != nil {
			fmt.Fprintf(w, "tenantcheck: cpu profile: %v\n", err)
		}
		heap, err := os.Create(filepath.Join(dir, "heap.pprof"))
		if err == nil {
			err = errors.Join(pprof.Lookup("heap").WriteTo(heap, 0), heap.Close())
		}
		if err != nil {
			fmt.Fprintf(w, "tenantcheck: heap profile: %v\n", err)
		}
	}, nil
}
