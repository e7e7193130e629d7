package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// phaseResults is what each phase of a run returned; assemble makes them one record.
type phaseResults struct {
	// isolation is the isolation schedules' record (the run's identity and invocations); nil
	// only when the runner could not start at all (runErr says why).
	isolation *runner.Observations
	// runErr is why the schedules stopped early (a phase timeout, Ctrl-C), with what they
	// observed still in isolation.
	runErr   error
	contract *runner.ContractObservations
	// lifecycle is the lifecycle phase's record; nil when its area was not selected.
	lifecycle *runner.LifecycleObservations
	// gateway is the gateway phase's record; nil when its area was not selected.
	gateway  *runner.GatewayObservations
	logs     *runner.LogsObservation
	s3       *runner.S3Observations
	declared *runner.Isolation
	// stopped is why the whole run was cut short (Ctrl-C, a target that stopped answering):
	// every area's PASS is held back, not only the schedules'.
	stopped error
}

// assemble is the one place the run's record is put together from its phases' results.
func (r *phaseResults) assemble(label string) *runner.Observations {
	obs := r.isolation
	obs.Target.Endpoint = label
	obs.Target.Isolation = r.declared
	obs.Contract, obs.Lifecycle, obs.Logs, obs.S3, obs.Gateway = r.contract, r.lifecycle, r.logs, r.s3, r.gateway
	switch {
	case r.stopped != nil:
		obs.Incomplete = append(obs.Incomplete, runner.Gap{Reason: "run stopped: " + r.stopped.Error()})
	case r.runErr != nil:
		// errors.Join puts one schedule's error per line; a report's reason is one line.
		why := strings.ReplaceAll(r.runErr.Error(), "\n", "; ")
		obs.Incomplete = append(obs.Incomplete, runner.Gap{Area: suites.AreaIsolation, Reason: why})
	}
	return obs
}

// runPhases runs every phase the selected checks need. The contract and lifecycle phases work on
// functions of their own, so they run beside the isolation schedules; logs and s3 need the
// schedules' record.
func (s *session) runPhases(ctx context.Context, started time.Time) *phaseResults {
	res := &phaseResults{}
	var s3prep <-chan s3Prepared
	if s.wants(suites.AreaS3) || s.wants(suites.AreaGateway) {
		// The gateway area's credentials case lays out data of its own on the same service.
		s.tgt.startS3(ctx, s)
	}
	var contract <-chan *runner.ContractObservations
	if s.wants(suites.AreaContract) {
		contract = inBackground(s, "contract", func() *runner.ContractObservations { return s.runContract(ctx) })
	}
	var lifecycle <-chan *runner.LifecycleObservations
	if s.wants(suites.AreaLifecycle) {
		lifecycle = inBackground(s, "lifecycle", func() *runner.LifecycleObservations { return s.runLifecycle(ctx) })
	}
	var gateway <-chan *runner.GatewayObservations
	if s.wants(suites.AreaGateway) {
		gateway = inBackground(s, "gateway", func() *runner.GatewayObservations { return s.runGateway(ctx) })
	}

	ropts := s.f.runnerOptions(s.function, s.stderr)
	ropts.AsyncChannel, ropts.Logs, ropts.LogGroup, ropts.Record = s.asyncChannel, s.logs, s.logGroup, s.record
	ropts.Forwarder, ropts.FrontDoor = s.forwarder, s.frontDoor
	ropts.IgnoreAsyncRetries = !slices.ContainsFunc(s.checks, func(c suites.Check) bool { return c.ID == "TI-API-013" })
	pre := s.tgt.declaredIsolation(ctx, s)
	if pre != nil && pre.Limits != nil {
		// The resources schedule's probe allocates past the limit the target declares.
		ropts.MemoryAllowanceMB = pre.Limits.MemoryAllowanceMB
	}
	ropts.Log = prefixWriter{w: s.stderr}
	if !ropts.IgnoreAsyncRetries {
		ropts.AsyncRetries, ropts.NoAsyncRetries = s.eventRetries(ctx)
		if pre != nil && ropts.Timeouts.AsyncRetry == 0 && len(pre.AsyncRetryDelaysMs) > 0 {
			ropts.Timeouts.AsyncRetry = declaredRetryWait(pre.AsyncRetryDelaysMs, ropts.AsyncRetries, ropts.Timeouts.AsyncReport)
		}
	}
	if s.wants(suites.AreaS3) && s.tgt.quickWaits() {
		// Laid out while the schedules run, once their tenants are known: off the critical path.
		// The tenants' credentials are minted then too, so only for a run whose schedules end
		// well inside their lifetime; otherwise (and on AWS, whose retries and log ingestion take
		// minutes) the data is laid out after the schedules, as the s3 phase begins.
		ropts.Began = func(runID string, tenants []runner.Tenant, expect time.Duration) {
			if expect < s3EarlyLimit {
				s3prep = s.prepareS3(ctx, runID, pickTenants(tenantsOf(tenants), s.f.seed))
			}
		}
	}
	res.isolation, res.runErr = runner.Run(ctx, runner.Retrying(&runner.LambdaInvoker{Client: s.client}, runner.RetryPolicy{}), ropts)
	s.logf("isolation schedules done in %s", time.Since(started).Round(time.Millisecond))
	// Waited for on every path, so tenant data laid out for a run that then stopped is removed.
	prepared := s.collectS3(s3prep)
	// Always collected, even after a failed run: the phases delete their functions on return.
	if contract != nil {
		res.contract = <-contract
		s.record.Contract(res.contract)
	}
	if lifecycle != nil {
		res.lifecycle = <-lifecycle
		s.record.Lifecycle(res.lifecycle)
	}
	if gateway != nil {
		res.gateway = <-gateway
		s.record.Gateway(res.gateway)
	}
	if res.isolation == nil {
		return res
	}
	if ctx.Err() != nil {
		// Nothing more is asked of a target that is gone or a user who pressed Ctrl-C; the
		// areas that would have read on say why they have nothing.
		res.stopped = context.Cause(ctx)
		why := "not run: run stopped: " + res.stopped.Error()
		if s.wants(suites.AreaLogs) {
			res.logs = &runner.LogsObservation{Group: s.logGroup, Err: why}
			s.record.Logs(res.logs)
		}
		if s.wants(suites.AreaS3) {
			res.s3 = runner.FailedS3(why)
			s.record.S3(res.s3)
		}
		return res
	}
	if n := res.isolation.ForgedReports; n > 0 {
		fmt.Fprintf(s.stderr, "warning: the async report channel refused %d report(s) that lacked their invocation's secret: something inside the target answered for an invocation it was not given\n", n)
	}
	res.declared = s.tgt.declaredIsolation(ctx, s)
	if s.wants(suites.AreaLogs) {
		s.phase("logs collected", func() { res.logs = s.readLogs(ctx, res.isolation) })
		s.record.Logs(res.logs)
	}
	if s.wants(suites.AreaS3) {
		s.phase("s3 phase done", func() { res.s3 = s.runS3(ctx, res.isolation, prepared) })
		s.record.S3(res.s3)
	}
	if ctx.Err() != nil {
		res.stopped = context.Cause(ctx)
	}
	return res
}

// inBackground runs phase on a goroutine of its own and hands its result over once, saying how
// long it took.
func inBackground[T any](s *session, name string, phase func() T) <-chan T {
	out := make(chan T, 1)
	go func() {
		t0 := time.Now()
		r := phase()
		s.logf("%s phase done in %s", name, time.Since(t0).Round(time.Millisecond))
		out <- r
	}()
	return out
}

func (s *session) runContract(ctx context.Context) *runner.ContractObservations {
	return runOwnPhase(ctx, s, "contract", runner.SkippedContract, runner.RunContract)
}

// runLifecycle runs the lifecycle phase on a function of its own, configured as the contract
// phase is (the same target hooks: role, tags, cap, hold).
func (s *session) runLifecycle(ctx context.Context) *runner.LifecycleObservations {
	return runOwnPhase(ctx, s, "lifecycle", runner.SkippedLifecycle, runner.RunLifecycle)
}

// runGateway runs the gateway phase through the target's REST API front door, on functions of
// its own configured as the contract phase's are.
func (s *session) runGateway(ctx context.Context) *runner.GatewayObservations {
	url, skip := s.tgt.gatewayURL(ctx, s)
	if skip != "" {
		return runner.SkippedGateway(skip)
	}
	return runOwnPhase(ctx, s, "gateway", runner.SkippedGateway, func(ctx context.Context, c *lambda.Client, opts runner.ContractOptions) (*runner.GatewayObservations, error) {
		return runner.RunGateway(ctx, c, runner.GatewayOptions{ContractOptions: opts, URL: url,
			APIGateway: runner.NewAPIGatewayClient(c), Region: s.f.region(), S3: s.gatewayS3})
	})
}

// gatewayS3 lays out the gateway area's credentials case on the s3 area's service: a shared bucket
// with a prefix named after each tenant, and the authorizer's STS configuration (the broker's
// identity, the data role, a session policy template of the tenant's prefix).
func (s *session) gatewayS3(ctx context.Context, runID string, tenants []string) (*runner.GatewayS3, error) {
	opts, done := s.tgt.s3Setup(ctx, s, tenants)
	if done != nil {
		return nil, errors.New(cmp.Or(done.Skipped, done.Failed, "the s3 service is not available"))
	}
	opts.RunID = runID
	return s3data.ForGateway(ctx, opts)
}

// runOwnPhase runs a phase that creates functions of its own (run), or records why it could not
// (skipped): the target cannot give it what it needs, or the probe could not be packaged. A
// phase that fails half-way still returns what it observed; the warning says why.
func runOwnPhase[T any](ctx context.Context, s *session, name string, skipped func(string) T,
	run func(context.Context, *lambda.Client, runner.ContractOptions) (T, error)) T {
	opts, skip := s.ownPhaseOptions(ctx)
	if skip != "" {
		s.logf("warning: %s phase skipped: %s", name, skip)
		return skipped(skip)
	}
	zip, arch, err := s.probeZip(ctx)
	if err != nil {
		s.logf("warning: %s phase: %v", name, err)
		return skipped(err.Error())
	}
	opts.Zip, opts.Arch = zip, arch
	o, err := run(ctx, s.client, opts)
	if err != nil {
		s.logf("warning: %s phase: %v", name, err)
	}
	return o
}

// ownPhaseOptions configures the phases that create functions of their own; skip says why they
// cannot run on this target.
func (s *session) ownPhaseOptions(ctx context.Context) (runner.ContractOptions, string) {
	opts := runner.ContractOptions{
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
		Forwarder:          s.forwarder,
	}
	skip := s.tgt.contract(s, &opts)
	if pre := s.tgt.declaredIsolation(ctx, s); pre != nil {
		opts.IdleTimeout = time.Duration(pre.IdleTimeoutMs) * time.Millisecond
		opts.IdleTimeoutTag = pre.IdleTimeoutTag
	}
	return opts, skip
}

func (s *session) readLogs(ctx context.Context, obs *runner.Observations) *runner.LogsObservation {
	lc, err := s.logsClient(ctx)
	if err != nil {
		s.logf("warning: %v", err)
		return nil
	}
	lo, err := runner.ReadLogGroup(ctx, lc, s.logGroup, obs, s.f.logsWait)
	if err != nil {
		s.logf("warning: collect logs: %v", err)
	}
	return lo
}

// s3EarlyLimit is the longest forecast of the schedules for which the s3 area's credentials are
// minted before them: a third of their lifetime (s3data.DefaultDuration, 15 minutes), leaving the
// rest for a target slower than the forecast and for the logs phase.
const s3EarlyLimit = s3data.DefaultDuration / 3

// s3Prepared is the s3 area's tenant data, or why the area cannot go on (done).
type s3Prepared struct {
	fx   *s3data.Fixture
	done *runner.S3Observations
}

// prepareS3 lays out the s3 area's data for the picked tenants on a goroutine of its own;
// collectS3 takes the result. Nothing on that goroutine touches the session's cleanups.
func (s *session) prepareS3(ctx context.Context, runID string, picked []string) <-chan s3Prepared {
	out := make(chan s3Prepared, 1)
	go func() {
		opts, done := s.tgt.s3Setup(ctx, s, picked)
		if done != nil {
			out <- s3Prepared{done: done}
			return
		}
		opts.Faults, opts.RunID = s.f.s3Faults, runID
		fx, err := s3data.Setup(ctx, opts)
		if err != nil {
			out <- s3Prepared{done: runner.FailedS3(fmt.Sprintf("could not lay out tenant data: %v", err))}
			return
		}
		out <- s3Prepared{fx: fx}
	}()
	return out
}

// collectS3 waits for prepareS3 (nil: it never started) and arranges for the tenant data to be
// removed at the end of the run.
func (s *session) collectS3(prep <-chan s3Prepared) *s3Prepared {
	if prep == nil {
		return nil
	}
	p := <-prep
	if p.fx != nil {
		s.defer_(func(ctx context.Context) error {
			if err := p.fx.Teardown(ctx); err != nil {
				return toolError("remove tenant buckets: %w", err)
			}
			return nil
		})
	}
	return &p
}

func (s *session) runS3(ctx context.Context, obs *runner.Observations, prepared *s3Prepared) *runner.S3Observations {
	if prepared == nil {
		// The schedules never said who their tenants were; lay the data out now.
		prepared = s.collectS3(s.prepareS3(ctx, obs.RunID, pickTenants(obs, s.f.seed)))
	}
	if prepared.done != nil {
		return prepared.done
	}
	o, err := runner.RunS3(ctx, runner.Retrying(&runner.LambdaInvoker{Client: s.client}, runner.RetryPolicy{}),
		runner.S3Options{Function: s.function, Qualifier: s.f.qualifier, RunID: obs.RunID, Phase: prepared.fx.Phase(), Invoke: s.f.timeouts.Invoke,
			Forwarder: s.forwarder})
	if err != nil {
		s.logf("warning: s3 phase: %v", err)
	}
	return o
}

// tenantsOf puts the runner's tenants in a record's shape, which pickTenants reads.
func tenantsOf(tenants []runner.Tenant) *runner.Observations {
	obs := &runner.Observations{Pairs: map[string]string{}}
	for _, t := range tenants {
		obs.Tenants = append(obs.Tenants, t.ID)
		if t.Pair != "" {
			obs.Pairs[t.ID] = t.Pair
		}
	}
	return obs
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
	return fresh[:min(runner.DefaultSettings().S3Tenants, len(fresh))]
}

// declaredRetryWait is how long the retries of a failed Event invocation may take on a target
// that declares its retry delays: the delays of the expected retries (0: Lambda's default two;
// the last declared delay repeats), plus the time a report may take to arrive.
func declaredRetryWait(delaysMs []int64, retries int, report time.Duration) time.Duration {
	if report <= 0 {
		report = runner.DefaultSettings().AsyncReportSink
	}
	if retries <= 0 {
		retries = runner.DefaultSettings().AsyncRetries
	}
	var total time.Duration
	for i := range retries {
		total += time.Duration(delaysMs[min(i, len(delaysMs)-1)]) * time.Millisecond
	}
	return total + report
}

// eventRetries reads how many times the target retries a failed Event invocation of the
// function under test (its event invoke config's MaximumRetryAttempts), so TI-API-013 waits for
// as many as will come: 0 and "" mean Lambda's default (no config, or one that leaves the
// attempts unset); a config that allows none returns the reason TI-API-013 SKIPs with. A target
// that cannot say (an emulator without the API, a role without lambda:GetFunctionEventInvokeConfig)
// gets Lambda's default, and the run says so.
func (s *session) eventRetries(ctx context.Context) (int, string) {
	in := &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(s.function)}
	if s.f.qualifier != "" {
		in.Qualifier = aws.String(s.f.qualifier)
	}
	out, err := s.client.GetFunctionEventInvokeConfig(ctx, in)
	var nf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return 0, ""
	case err != nil:
		s.logf("could not read the function's event invoke config, so TI-API-013 expects Lambda's default of %d retries: %v",
			runner.DefaultSettings().AsyncRetries, err)
		return 0, ""
	case out.MaximumRetryAttempts == nil:
		return 0, ""
	case *out.MaximumRetryAttempts == 0:
		return 0, "the function's event invoke config sets MaximumRetryAttempts to 0, so the target retries no failed Event invocation"
	}
	return int(*out.MaximumRetryAttempts), ""
}
