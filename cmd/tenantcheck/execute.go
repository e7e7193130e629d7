package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/hashicorp/go-multierror"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/fixtures/seaweed"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// s3Tenants bounds the tenants the s3 area lays data out for: its cost grows with the square of
// the count (every tenant tries every other tenant's data), and four already gives 12 ordered
// cross-tenant pairs per operation.
const s3Tenants = 4

// s3Rounds is how many times the s3 area invokes each tenant per mechanism (runner.S3Options'
// default): the second round is what lets TI-S3-004 see credentials left in a reused environment.
const s3Rounds = 2

func (f *runFlags) region() string {
	if f.aws.region != "" {
		return f.aws.region
	}
	return "us-east-1"
}

// session is what one run stood up; execute's deferred cleanups take it down in reverse.
type session struct {
	f        *runFlags
	stderr   io.Writer
	checks   []suites.Check
	endpoint string // "" on AWS
	label    string
	client   *lambda.Client
	awsCfg   *aws.Config
	function string
	// role is the execution role of functions the contract phase creates (AWS: the stack's).
	role string
	// stack is the AWS probe stack under test: the one this run deployed, or the one an
	// existing tenantcheck-<run>-probe function belongs to. Nil elsewhere.
	stack *awsstack.Plan
	zip   []byte
	// asyncChannel is how Event invocations report back (runner.AsyncChannel*); logs is the
	// CloudWatch Logs client of the target, for that channel and the logs area.
	asyncChannel string
	logs         runner.LogsClient
	// logGroup is where the function under test logs: its LoggingConfig.LogGroup, or
	// /aws/lambda/<name> when it names none.
	logGroup string
	cleanups []func(context.Context) error
}

func (s *session) defer_(fn func(context.Context) error) { s.cleanups = append(s.cleanups, fn) }

func (s *session) wants(area string) bool {
	return slices.ContainsFunc(s.checks, func(c suites.Check) bool { return c.Area == area })
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.stderr, "tenantcheck: "+format+"\n", args...)
}

// execute is one whole run: stand up the target, deploy the probe, run every phase the selected
// checks need, judge, and take down everything it created, in reverse order, whatever happened
// in between (Ctrl-C included: cleanups run on a context detached from the cancelled one).
func (f *runFlags) execute(ctx context.Context, checks []suites.Check, stderr io.Writer) (rep *reports.Report, retErr error) {
	s := &session{f: f, stderr: stderr, checks: checks, role: f.role}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			if err := s.cleanups[i](cctx); err != nil {
				retErr = multierror.Append(retErr, err)
			}
		}
	}()
	if err := s.standUp(ctx); err != nil {
		return nil, err
	}
	s.logGroup = s.functionLogGroup(ctx)
	s3Ready := s.startS3Backend(ctx)
	// The contract phase works on functions of its own, so it runs beside the isolation
	// schedules: on the built-in target the wall time of a run is the longer of the two.
	var contract chan *runner.ContractObservations
	if s.wants(suites.AreaContract) {
		contract = make(chan *runner.ContractObservations, 1)
		go func() {
			t0 := time.Now()
			co := s.runContract(ctx)
			s.logf("contract phase done in %s", time.Since(t0).Round(time.Millisecond))
			contract <- co
		}()
	}

	start := time.Now()
	ropts := f.runnerOptions(s.function, stderr)
	ropts.AsyncChannel, ropts.Logs, ropts.LogGroup = s.asyncChannel, s.logs, s.logGroup
	obs, err := runner.Run(ctx, runner.Retrying(&runner.LambdaInvoker{Client: s.client}, runner.RetryPolicy{}), ropts)
	s.logf("isolation schedules done in %s", time.Since(start).Round(time.Millisecond))
	if contract != nil {
		// Always collected, even after a failed run: the phase deletes its functions on return.
		co := <-contract
		if obs != nil {
			obs.Contract = co
		}
	}
	if err != nil {
		return nil, toolError("run: %w", err)
	}
	obs.Target.Endpoint = s.label
	if s.endpoint != "" {
		if iso, err := runner.FetchIsolation(ctx, s.endpoint); err != nil {
			s.logf("warning: %v; judging as if the target claims full isolation", err)
		} else {
			obs.Target.Isolation = iso
		}
	}
	if s.wants(suites.AreaLogs) {
		t0 := time.Now()
		s.collectLogs(ctx, obs)
		s.logf("logs collected in %s", time.Since(t0).Round(time.Millisecond))
	}
	if s.wants(suites.AreaS3) {
		t0 := time.Now()
		obs.S3 = s.runS3(ctx, obs, s3Ready)
		s.logf("s3 phase done in %s", time.Since(t0).Round(time.Millisecond))
	}

	results := suites.Evaluate(checks, obs)
	results = append(results, suites.Skipped(suites.Complement(suites.All(), checks), "deselected by --checks/--skip")...)
	return &reports.Report{
		SchemaVersion: reports.SchemaVersion,
		Tool:          "tenantcheck",
		ToolVersion:   toolVersion(),
		RunID:         obs.RunID,
		Seed:          f.seed,
		Target:        s.label,
		Function:      s.function,
		Started:       start.UTC(),
		Elapsed:       time.Since(start),
		Power:         suites.Power(obs),
		Checks:        results,
		Summary:       reports.Summarize(results),
	}, nil
}

func (f *runFlags) runnerOptions(function string, stderr io.Writer) runner.Options {
	return runner.Options{
		Function:    function,
		Qualifier:   f.qualifier,
		Tenants:     f.tenants,
		Invocations: f.invocations,
		Concurrency: f.concurrency,
		Schedules:   f.schedules,
		Seed:        f.seed,
		Timeouts:    f.timeouts,
		Progress:    runner.NewProgress(stderr),
	}
}

// standUp starts the built-in target (unless another is named), builds the Lambda client and
// deploys the probe (unless --function names one).
func (s *session) standUp(ctx context.Context) error {
	f := s.f
	switch {
	case f.useAWS:
		cfg, err := f.aws.config(ctx, "")
		if err != nil {
			return err
		}
		s.awsCfg = &cfg
		s.client = lambda.NewFromConfig(cfg)
		s.label = "aws:" + cfg.Region
	case f.endpoint != "":
		s.endpoint, s.label = f.endpoint, f.endpoint
	default:
		cfg, err := f.target.config("127.0.0.1:0", f.seed)
		if err != nil {
			return err
		}
		srv, err := emulator.New(cfg)
		if err != nil {
			return usageError("built-in target: %w", err)
		}
		if err := srv.Start(); err != nil {
			return toolError("start built-in target: %w", err)
		}
		s.defer_(func(context.Context) error {
			if err := srv.Close(); err != nil {
				return toolError("stop built-in target: %w", err)
			}
			return nil
		})
		s.endpoint, s.label = srv.Endpoint(), "built-in"
	}
	s.logf("target %s, seed %d", firstNonEmpty(s.endpoint, s.label), f.seed)
	if s.client == nil {
		c, err := runner.NewLambdaClient(ctx, s.endpoint, f.region(), runner.ClientOptions{AdaptiveRetry: !runner.IsLoopback(s.endpoint)})
		if err != nil {
			return toolError("lambda client: %w", err)
		}
		s.client = c
	}
	if err := s.chooseAsyncChannel(ctx); err != nil {
		return err
	}
	s.function = f.function
	if s.function != "" {
		if f.useAWS {
			s.findStack(ctx)
		}
		return nil
	}
	if f.useAWS {
		st, err := deployStack(ctx, *s.awsCfg, awsstack.Options{
			RunID: f.runID, Arch: f.arch, FunctionTimeout: max(f.fnTimeout, 3*time.Second), JournalDir: f.aws.journalDir, Log: prefixWriter{w: s.stderr},
		}, f.deployTimout, s.stderr)
		if err != nil {
			return err
		}
		s.defer_(func(ctx context.Context) error {
			if err := st.Teardown(ctx); err != nil {
				return toolError("teardown of run %s: %w", st.RunID(), err)
			}
			return nil
		})
		s.function, s.role, s.stack = st.FunctionName, st.Plan.ExecRoleARN(), st.Plan
		return nil
	}
	t0 := time.Now()
	zip, err := s.probeZip(ctx)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, f.deployTimout)
	defer cancel()
	d, err := probefn.Deploy(dctx, s.client, probefn.Spec{Zip: zip, Timeout: f.fnTimeout, PerTenant: true})
	if err != nil {
		return toolError("%w", err)
	}
	s.defer_(func(ctx context.Context) error {
		if err := probefn.Teardown(ctx, s.client, d); err != nil {
			return toolError("teardown (function %s left behind): %w", d.ARN, err)
		}
		return nil
	})
	s.function = d.Name
	s.logf("deployed probe %s (%d KB zip) in %s", d.Name, len(zip)/1024, time.Since(t0).Round(time.Millisecond))
	return nil
}

// functionLogGroup is where the function under test logs. A function may name its own group
// (LoggingConfig.LogGroup) instead of /aws/lambda/<name>; reading the default one would then
// find nothing, and the async and logs checks would wait in vain.
func (s *session) functionLogGroup(ctx context.Context) string {
	fallback := runner.LogGroupName(s.function)
	switch {
	case s.stack != nil:
		return s.stack.Names.LogGroup
	case s.f.function == "":
		return fallback // deployed just now, with the default group
	}
	cctx, cancel := context.WithTimeout(ctx, s.f.timeouts.Invoke)
	defer cancel()
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(s.function)}
	if s.f.qualifier != "" {
		in.Qualifier = aws.String(s.f.qualifier)
	}
	out, err := s.client.GetFunctionConfiguration(cctx, in)
	if err != nil {
		s.logf("warning: could not read the log group of %s (%v); reading %s", s.function, err, fallback)
		return fallback
	}
	if lc := out.LoggingConfig; lc != nil && aws.ToString(lc.LogGroup) != "" {
		return aws.ToString(lc.LogGroup)
	}
	return fallback
}

// chooseAsyncChannel resolves --async-channel. auto takes the loopback sink when the target runs
// on this machine (it can reach 127.0.0.1), CloudWatch Logs on AWS, and nothing for a remote
// endpoint, whose Logs API may not exist: its async checks then SKIP rather than wait in vain.
func (s *session) chooseAsyncChannel(ctx context.Context) error {
	ch := s.f.asyncChannel
	if ch == "auto" || ch == "" {
		switch {
		case s.f.useAWS:
			ch = runner.AsyncChannelLogs
		case runner.IsLoopback(s.endpoint):
			ch = runner.AsyncChannelSink
		default:
			ch = runner.AsyncChannelNone
		}
	}
	s.asyncChannel = ch
	if ch != runner.AsyncChannelLogs {
		return nil
	}
	if _, err := s.logsClient(ctx); err != nil {
		return toolError("async reports through logs: %w", err)
	}
	return nil
}

// logsClient is the CloudWatch Logs client of the target: AWS's with the run's configuration, or
// the endpoint's.
func (s *session) logsClient(ctx context.Context) (runner.LogsClient, error) {
	if s.logs != nil {
		return s.logs, nil
	}
	if s.awsCfg != nil {
		s.logs = runner.PacedLogs(cloudwatchlogs.NewFromConfig(*s.awsCfg), runner.AWSFilterLogEventsRate)
		return s.logs, nil
	}
	lc, err := runner.NewLogsClient(ctx, s.endpoint, s.f.region())
	if err != nil {
		return nil, fmt.Errorf("logs client: %w", err)
	}
	s.logs = lc
	return lc, nil
}

// findStack recognises a --function that `tenantcheck deploy` or the CloudFormation template
// created (tenantcheck-<run>-probe) and rebuilds its stack's names and ARNs, so the s3 area can
// use its roles and buckets and the contract phase its execution role. Anything else is tested
// without them: the s3 area then SKIPs and says why.
func (s *session) findStack(ctx context.Context) {
	runID, ok := awsstack.RunIDFromFunction(s.function)
	if !ok {
		return
	}
	id, err := awsstack.WhoAmI(ctx, *s.awsCfg)
	if err != nil {
		s.logf("warning: cannot rebuild the stack of run %s: %v", runID, err)
		return
	}
	plan, err := awsstack.NewPlan(awsstack.Options{RunID: runID, Region: s.awsCfg.Region}, id)
	if err != nil {
		s.logf("warning: cannot rebuild the stack of run %s: %v", runID, err)
		return
	}
	s.stack = plan
	if s.role == "" {
		s.role = plan.ExecRoleARN()
	}
	s.logf("testing the probe stack of run %s (account %s)", runID, plan.Account)
}

// zipArch is the Lambda architecture to give the functions the contract phase creates from
// probeZip: on AWS the zip is built for --arch (and --probe-binary must be built for it too),
// and a function left at AWS's default x86_64 could not start an arm64 zip. Other targets keep
// their default: the built-in one runs this machine's binary whatever the field says.
func (s *session) zipArch() string {
	if s.f.useAWS {
		return s.f.arch
	}
	return ""
}

func (s *session) probeZip(ctx context.Context) ([]byte, error) {
	if s.zip != nil {
		return s.zip, nil
	}
	var err error
	switch {
	case s.f.probeBinary != "":
		s.zip, err = probefn.ZipExecutable(s.f.probeBinary)
	case s.f.useAWS:
		s.zip, err = probefn.ProbeZip(ctx, s.f.arch)
	default:
		s.zip, err = probefn.SelfZip("")
	}
	if err != nil {
		return nil, toolError("package probe: %w", err)
	}
	return s.zip, nil
}

// s3Backend is the S3/STS service of the s3 area, or why there is none. It is started in the
// background; wait blocks until it is up or has failed, and may be called any number of times.
type s3Backend struct {
	done chan struct{}
	srv  *seaweed.Server
	err  error
}

func (b *s3Backend) wait() (*seaweed.Server, error) {
	<-b.done
	return b.srv, b.err
}

// startS3Backend starts SeaweedFS in the background for local runs, so its few seconds of start-up
// overlap the isolation schedules.
func (s *session) startS3Backend(ctx context.Context) *s3Backend {
	b := &s3Backend{done: make(chan struct{})}
	if !s.wants(suites.AreaS3) || s.f.useAWS || s.f.s3Endpoint != "" {
		close(b.done)
		return b
	}
	go func() {
		defer close(b.done)
		b.srv, b.err = seaweed.Ensure(ctx, seaweed.Options{Progress: prefixWriter{w: s.stderr}, NoBuild: s.f.noBuild})
	}()
	s.defer_(func(context.Context) error {
		if srv, _ := b.wait(); srv != nil {
			if err := srv.Stop(); err != nil {
				return toolError("stop SeaweedFS (pid %d): %w", srv.PID, err)
			}
		}
		return nil
	})
	return b
}

func (s *session) runS3(ctx context.Context, obs *runner.Observations, backend *s3Backend) *runner.S3Observations {
	f := s.f
	tenants := pickTenants(obs, f.seed)
	var opts s3data.SetupOptions
	switch {
	case f.s3Endpoint != "":
		opts = s3data.SetupOptions{Endpoint: f.s3Endpoint, STSEndpoint: f.stsEndpoint, Region: f.region(), Tenants: tenants, Shared: true}
	case f.useAWS:
		if s.stack == nil {
			return runner.SkippedS3(fmt.Sprintf("function %s is not a tenantcheck probe stack (tenantcheck-<run>-probe), so there are no tenant buckets or broker roles to test with; deploy one with `tenantcheck deploy` or fixtures/awsstack/template.yaml", s.function))
		}
		opts = stackS3Options(s.stack, *s.awsCfg, tenants)
	default:
		srv, err := backend.wait()
		if errors.Is(err, seaweed.ErrNotBuilt) {
			return runner.SkippedS3(err.Error())
		}
		if err != nil {
			return runner.FailedS3(err.Error())
		}
		opts = s3data.ForSeaweed(srv, tenants)
	}
	opts.Faults, opts.RunID = f.s3Faults, obs.RunID
	fx, err := s3data.Setup(ctx, opts)
	if err != nil {
		return runner.FailedS3(fmt.Sprintf("could not lay out tenant data: %v", err))
	}
	s.defer_(func(ctx context.Context) error {
		if err := fx.Teardown(ctx); err != nil {
			return toolError("remove tenant buckets: %w", err)
		}
		return nil
	})
	o, err := runner.RunS3(ctx, runner.Retrying(&runner.LambdaInvoker{Client: s.client}, runner.RetryPolicy{}),
		runner.S3Options{Function: s.function, Qualifier: f.qualifier, RunID: obs.RunID, Phase: fx.Phase(), Invoke: f.timeouts.Invoke, Rounds: s3Rounds})
	if err != nil {
		s.logf("warning: s3 phase: %v", err)
	}
	return o
}

// stackS3Options points the s3 fixture at an AWS probe stack: tenant i gets slot i's bucket, is
// scoped by an inline session policy on the stack's data role, and by its slot's session tag on
// the broker role. The run's own principal seeds the buckets and plays the authorizer, as the
// stack's trust policies expect; it is also the admin, so the broker-has-no-S3-rights test does
// not apply.
// rolePropagationWait is how long the s3 area keeps trying to assume a stack role that STS
// refuses: the stack may be seconds old (deploy, then run at once), and IAM takes that long to
// spread a new role. deploy's own --propagation-timeout defaults to the same minute.
const rolePropagationWait = time.Minute

func stackS3Options(p *awsstack.Plan, cfg aws.Config, tenants []string) s3data.SetupOptions {
	slots := make([]string, len(p.Names.Buckets))
	for i, b := range p.Names.Buckets {
		slots[i] = b.Slot
	}
	return s3data.SetupOptions{
		Region: p.Region, Base: &cfg, Tenants: tenants,
		Buckets: p.TenantBuckets(), RoleARN: p.DataRoleARN(),
		SessionTags:     &s3data.TagScoping{RoleARN: p.BrokerRoleARN(), Key: awsstack.SessionTagSlot, Values: slots},
		PropagationWait: rolePropagationWait,
	}
}

// pickTenants chooses the s3 area's tenants from the run's fresh ones, seeded for replay.
func pickTenants(obs *runner.Observations, seed int64) []string {
	var fresh []string
	for _, t := range obs.Tenants {
		if obs.Pairs[t] == "" || obs.Pairs[t] == "fresh" {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) < 2 {
		fresh = append([]string(nil), obs.Tenants...)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7333))
	rng.Shuffle(len(fresh), func(i, j int) { fresh[i], fresh[j] = fresh[j], fresh[i] })
	return fresh[:min(s3Tenants, len(fresh))]
}

func (s *session) collectLogs(ctx context.Context, obs *runner.Observations) {
	lc, err := s.logsClient(ctx)
	if err != nil {
		s.logf("warning: %v", err)
		return
	}
	if err := runner.CollectLogGroup(ctx, lc, s.logGroup, obs, s.f.logsWait); err != nil {
		s.logf("warning: collect logs: %v", err)
	}
}

func (s *session) runContract(ctx context.Context) *runner.ContractObservations {
	if s.f.useAWS && s.role == "" {
		reason := fmt.Sprintf("on AWS the phase creates functions of its own and needs an execution role for them: pass --role (e.g. the role of %s), or test a stack `tenantcheck deploy` created", s.function)
		s.logf("warning: contract phase skipped: %s", reason)
		return runner.SkippedContract(reason)
	}
	zip, err := s.probeZip(ctx)
	if err != nil {
		s.logf("warning: contract phase: %v", err)
		return nil
	}
	opts := runner.ContractOptions{
		Zip:          zip,
		Arch:         s.zipArch(),
		Role:         s.role,
		Function:     s.function,
		Qualifier:    s.f.qualifier,
		Seed:         s.f.seed,
		AsyncChannel: s.asyncChannel,
		Logs:         s.logs,
		// The phase's functions log where the probe does: on AWS the execution role may write
		// nowhere else and teardown removes that group; the logs area must (and does) tell
		// their lines from the isolation run's.
		LogGroup:           s.logGroup,
		InvokeTimeout:      s.f.timeouts.Invoke,
		DeployTimeout:      s.f.deployTimout,
		AsyncReportTimeout: s.f.timeouts.AsyncReport,
	}
	if s.stack != nil {
		opts.Tags = s.stack.Tags()
	}
	if s.f.endpoint == "" && !s.f.useAWS {
		// The built-in target's cap is known, and its cold starts take milliseconds, so the
		// cap probe's invocations are all in flight well within a short hold.
		opts.CapProbe = s.f.target.maxEnvironments
		opts.Hold = 1500 * time.Millisecond
	}
	o, err := runner.RunContract(ctx, s.client, opts)
	if err != nil {
		s.logf("warning: contract phase: %v", err)
	}
	return o
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
