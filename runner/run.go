package runner

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// Timeouts names one duration per phase of a run, so a user who hits one knows which to raise.
type Timeouts struct {
	// Invoke bounds one invocation including the runner's retries. Default 30s.
	Invoke time.Duration
	// Phase bounds one schedule; unstarted steps are dropped when it expires. Zero (the
	// default) follows the plan: three times what the schedule's own measured rate projects for
	// its steps, never less than Defaults.Phase, so 10,000 tenants get the time they need and a
	// target that hangs is still given up on.
	Phase time.Duration
	// AsyncReport is how long an Event invocation's report may take to reach the runner.
	// Default 10s with the sink, 60s with the logs channel (CloudWatch makes lines searchable
	// seconds after they are written).
	AsyncReport time.Duration
	// AsyncRetry bounds the wait, after the errors schedule, for the retries of the run's failed
	// Event invocations; it ends as soon as every expected retry arrived. Default
	// Defaults.AsyncRetryWait; a caller that knows the target's retry delays (the built-in
	// target publishes them) sets their sum plus AsyncReport.
	AsyncRetry time.Duration
}

// Options select what Run does. The zero value of every field but Function has a sane default.
type Options struct {
	Function  string
	Qualifier string
	// Tenants is the number of fresh random tenants, added to the adversarial groups. Default:
	// DefaultSettings, as for every zero field below.
	Tenants int
	// Fixed, when non-empty, replaces the generated tenants (Tenants is then ignored).
	Fixed []Tenant
	// Invocations is the total across schedules, split by weight.
	Invocations int
	// Concurrency bounds the invocations in flight in the concurrent schedules.
	Concurrency int
	// Schedules to run, in order. Default AllSchedules().
	Schedules []string
	// Seed fixes the steps: the same seed plans the same interleaving byte for byte.
	Seed     int64
	Timeouts Timeouts
	// ReportSink starts a loopback sink for async reports. Without it Event invocations still
	// run but can report nothing (Observations.Target.AsyncReports is false). It is the older
	// spelling of AsyncChannel AsyncChannelSink and applies only when AsyncChannel is empty.
	ReportSink bool
	// AsyncChannel selects how Event invocations' reports reach the runner: AsyncChannelSink,
	// AsyncChannelLogs or AsyncChannelNone. Empty means AsyncChannelSink when ReportSink is set,
	// AsyncChannelNone otherwise.
	AsyncChannel string
	// Logs reads the function's log group for AsyncChannelLogs (see NewLogsClient).
	Logs LogsClient
	// LogGroup is the log group AsyncChannelLogs reads; empty means LogGroupName(Function).
	// Only a function configured with a custom LoggingConfig.LogGroup needs it.
	LogGroup string
	// Stream sends synchronous invocations through InvokeWithResponseStream.
	Stream bool
	// ErrorRate is the seeded fraction of invocations turned into an error or crash in every
	// schedule. 0 means 0.05; negative disables it.
	ErrorRate float64
	// MaxTimeouts bounds timeout actions in the errors schedule (each costs a function
	// timeout). 0 means 2; negative means none.
	MaxTimeouts int
	// Progress is told about finished invocations; nil is silent. See NewProgress.
	Progress Progress
	// FrontDoor, when set, is the target's own API as the run reaches it: one sync invocation
	// in frontDoorEvery asks its probe to try it as another tenant (TI-NET-002).
	FrontDoor *FrontDoor
	// Forwarder makes the async report sink reachable from inside the target's environments.
	// Nil means the target's own endpoint when the invoker is a LambdaInvoker pointed at
	// loopback (see EndpointForwarder), nothing otherwise.
	Forwarder Forwarder
	// MemoryAllowanceMB is how far past MemorySize the target declares an environment's memory
	// limit to be (the built-in target: EphemeralStorage, its /tmp being in memory); the
	// resources schedule's probe allocates past the sum (TI-RES-001).
	MemoryAllowanceMB int
	// Record, when set, receives the run's identity and every invocation as it finishes
	// (run --observations), so a run that breaks half-way leaves what it saw.
	Record *Record
	// IgnoreAsyncRetries skips waiting for and collecting the retries of failed Event
	// invocations, for a caller that does not judge them (TI-API-013 deselected).
	IgnoreAsyncRetries bool
	// AsyncRetries is how many retries of each failed Event invocation the function's event
	// invoke config asks for (MaximumRetryAttempts); 0 means Lambda's default,
	// Defaults.AsyncRetries. A function configured for none sets NoAsyncRetries instead.
	AsyncRetries int
	// NoAsyncRetries, when set, says why the target will not retry a failed Event invocation
	// (its event invoke config allows none): the runner waits for nothing and TI-API-013 SKIPs
	// with this reason.
	NoAsyncRetries string
	// Began, when set, is called once the run has its identity and tenants and before the first
	// schedule, so a caller can prepare work that needs them (the s3 area lays out its tenants'
	// data meanwhile) instead of waiting for the schedules to end. expect is the built-in
	// target's rough forecast of the schedules, waits for retries not included.
	Began func(runID string, tenants []Tenant, expect time.Duration)
	// Log receives a line for each long wait the runner makes outside the schedules (the wait
	// for async retries can take minutes on AWS), so a user sees why nothing moves; nil is
	// silent.
	Log io.Writer
}

// withDefaults fills every zero field from DefaultSettings. Run and Plan each apply it exactly
// once (Run plans through plan, which does not), so a negative ErrorRate or MaxTimeouts, meaning
// "none", is kept negative and read as none by the planner.
func (o Options) withDefaults() Options {
	d := DefaultSettings()
	if o.Tenants <= 0 {
		o.Tenants = d.Tenants
	}
	if o.Invocations <= 0 {
		o.Invocations = d.Invocations
	}
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if len(o.Schedules) == 0 {
		o.Schedules = AllSchedules()
	}
	if o.Timeouts.Invoke <= 0 {
		o.Timeouts.Invoke = d.Invoke
	}
	o.AsyncChannel = resolveAsyncChannel(o.AsyncChannel, o.ReportSink)
	if o.Timeouts.AsyncReport <= 0 {
		o.Timeouts.AsyncReport = d.asyncReportTimeout(o.AsyncChannel)
	}
	if o.Timeouts.AsyncRetry <= 0 {
		o.Timeouts.AsyncRetry = d.AsyncRetryWait
	}
	if o.AsyncRetries <= 0 {
		o.AsyncRetries = d.AsyncRetries
	}
	if o.ErrorRate == 0 {
		o.ErrorRate = d.ErrorRate
	}
	if o.MaxTimeouts == 0 {
		o.MaxTimeouts = d.MaxTimeouts
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	o.MemoryAllowanceMB = min(max(o.MemoryAllowanceMB, 0), MaxMemoryAllowanceMB)
	return o
}

// ErrAsyncReportMissing is recorded (as text, in Observation.Err) when an Event invocation was
// accepted but its report never reached the runner through the async channel.
var ErrAsyncReportMissing = errors.New("async report not received")

// Run executes the selected schedules in order and records every invocation. It returns the
// observations made so far together with an error when the context is cancelled or a phase
// times out, so a partial run can still be judged (as INCONCLUSIVE) rather than thrown away.
func Run(ctx context.Context, inv Invoker, opts Options) (*Observations, error) {
	if inv == nil {
		return nil, errors.New("run: nil invoker")
	}
	opts = opts.withDefaults()
	if opts.Function == "" {
		return nil, errors.New("run: no function name")
	}
	runID, tenantSeed, err := newRunIdentity()
	if err != nil {
		return nil, err
	}
	tenants := opts.Fixed
	if len(tenants) == 0 {
		tenants = Tenants(rand.New(rand.NewPCG(tenantSeed[0], tenantSeed[1])), opts.Tenants)
	}
	for _, t := range tenants {
		if !ValidTenantID(t.ID) {
			return nil, fmt.Errorf("run: tenant ID %q violates the API's tenant ID constraints", t.ID)
		}
	}
	// A bad channel choice is an error even when no schedule makes Event invocations.
	if err := checkAsyncChannel(opts.AsyncChannel, opts.Logs); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	phases, err := plan(opts, tenants)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	total := 0
	hasAsync := false
	for _, ph := range phases {
		total += len(ph.Steps)
		for _, s := range ph.Steps {
			hasAsync = hasAsync || s.Async
		}
	}

	started := time.Now()
	e := &executor{
		inv:     inv,
		opts:    opts,
		runID:   runID,
		tenants: tenants,
		items:   make([]Observation, total),
		track:   newTracker(len(tenants)),
		peers:   newPeerBook(opts.Seed),
		inboxes: newInboxBook(opts.Seed),
	}
	if hasAsync {
		fwd := opts.Forwarder
		if fwd == nil {
			fwd = forwarderFor(inv)
		}
		ch, err := openAsyncChannel(ctx, opts.AsyncChannel, opts.Logs, opts.LogGroup, started, fwd)
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		if ch != nil {
			defer ch.close()
			e.async = ch
		}
	}

	obs := &Observations{
		RunID:   runID,
		Seed:    opts.Seed,
		Target:  TargetInfo{Function: opts.Function, AsyncReports: e.async != nil},
		Started: started,
	}
	if e.async != nil {
		obs.Target.AsyncChannel = opts.AsyncChannel
	}
	obs.Target.MemoryAllowanceMB = e.opts.MemoryAllowanceMB
	for _, t := range tenants {
		obs.Tenants = append(obs.Tenants, t.ID)
		if t.Pair != "" {
			if obs.Pairs == nil {
				obs.Pairs = map[string]string{}
			}
			obs.Pairs[t.ID] = t.Pair
		}
	}

	opts.Record.begin(obs)
	if opts.Began != nil {
		expect, _ := forecast(phases, DefaultSettings().FunctionTimeout)
		opts.Began(runID, slices.Clone(tenants), expect)
	}
	announce(opts.Log, phases, len(tenants))
	opts.Progress.Start(total)
	var errs []error
	for i, ph := range phases {
		if err := e.runPhase(ctx, ph); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
		announceRest(opts.Log, phases[:i+1], phases[i+1:], time.Since(started))
		if ph.Schedule == ScheduleErrors && !opts.IgnoreAsyncRetries {
			// Retries are waited for before the next schedule, so those that come within
			// --async-retry-wait never run into it (the resources schedule times its tenants'
			// idle environments). On a target whose delays are short that costs a second;
			// Lambda's come minutes later, and the run says what it waits for.
			obs.Target.AsyncRetries = e.collectRetries(ctx, e.items[:e.issued])
		}
	}
	opts.Progress.Done()

	obs.Items = e.items[:e.issued]
	for _, it := range obs.Items {
		if it.Opportunity {
			obs.Opportunities++
		}
	}
	obs.Elapsed = time.Since(obs.Started)
	if e.async != nil {
		obs.ForgedReports = e.async.dropped()
	}
	return obs, errors.Join(errs...)
}

func newRunIdentity() (string, [2]uint64, error) {
	var b [24]byte
	if _, err := crand.Read(b[:]); err != nil {
		return "", [2]uint64{}, fmt.Errorf("run: random run ID: %w", err)
	}
	seed := [2]uint64{binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])}
	return hex.EncodeToString(b[:8]), seed, nil
}

type executor struct {
	inv     Invoker
	opts    Options
	runID   string
	tenants []Tenant
	async   asyncChannel // nil: Event invocations cannot report
	peers   *peerBook
	inboxes *peerBook

	mu     sync.Mutex // guards issued, track and clock
	issued int
	clock  *phaseClock // the running schedule's
	items  []Observation
	track  *tracker
}

// runPhase issues a phase's steps under its concurrency bound, with a barrier between
// batches. Cancellation stops issuing at once; invocations already issued run to completion
// or to their own Invoke timeout so every recorded observation is complete.
func (e *executor) runPhase(ctx context.Context, ph Phase) error {
	clock := startPhaseClock(ctx, e.opts.Timeouts.Phase, len(ph.Steps))
	defer clock.stop()
	pctx := clock.ctx
	e.mu.Lock()
	e.clock = clock
	e.mu.Unlock()
	sem := make(chan struct{}, max(1, ph.Concurrency))
	var inflight, reports sync.WaitGroup
	batch, done := -1, 0
	for _, st := range ph.Steps {
		if st.Batch != batch {
			inflight.Wait()
			batch = st.Batch
		}
		if st.Pause > 0 {
			inflight.Wait()
			reports.Wait()
			t := time.NewTimer(st.Pause)
			select {
			case <-t.C:
			case <-pctx.Done():
				t.Stop()
			}
		}
		if pctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-pctx.Done():
		}
		if pctx.Err() != nil {
			break
		}
		idx := e.issue(st)
		done++
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-sem }()
			e.invoke(ctx, idx, st, &reports)
		}()
	}
	inflight.Wait()
	reports.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("schedule %s: stopped after %d of %d invocations: %w", ph.Schedule, done, len(ph.Steps), context.Cause(ctx))
	case done < len(ph.Steps):
		return fmt.Errorf("schedule %s: phase timeout %v after %d of %d invocations", ph.Schedule, clock.why(), done, len(ph.Steps))
	}
	return nil
}

// issue assigns the next Seq and decides the opportunity under one lock, so Seq order is issue
// order and the opportunity reflects exactly what was in flight at that moment.
func (e *executor) issue(st Step) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	idx := e.issued
	e.issued++
	t := e.tenants[st.Tenant]
	e.items[idx] = Observation{
		Seq:         int64(idx + 1),
		Schedule:    st.Schedule,
		Tenant:      t.ID,
		Pair:        t.Pair,
		Action:      st.Action,
		Async:       st.Async,
		Memory:      st.Memory,
		Stream:      e.opts.Stream && !st.Async,
		Opportunity: e.track.begin(st.Tenant),
	}
	return idx
}

// finish ends invocation idx: its observation is final from here on.
func (e *executor) finish(idx, tenant int, completed bool) {
	e.opts.Record.invocation(&e.items[idx])
	e.mu.Lock()
	e.track.end(tenant, completed)
	clock := e.clock
	e.mu.Unlock()
	clock.tick()
	e.opts.Progress.Tick()
}

func (e *executor) invoke(ctx context.Context, idx int, st Step, reports *sync.WaitGroup) {
	ob := &e.items[idx]
	ev := probes.Event{
		Schema: probes.SchemaVersion,
		RunID:  e.runID,
		Tenant: ob.Tenant,
		Seq:    ob.Seq,
		Action: st.Action,

		RuntimeAPIPeers: e.peers.pick(ob.Seq, ob.Tenant, st.Async),
		InboxPeers:      e.inboxes.pickInboxes(ob.Seq, ob.Tenant, st.Async),
		FrontDoor:       e.frontDoor(ob.Seq, ob.Tenant, st.Async),
	}
	if st.Memory {
		ev.Memory = &probes.MemoryRequest{AllowanceMB: e.opts.MemoryAllowanceMB}
	}
	if st.Async && e.async != nil {
		e.async.prepare(&ev)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		ob.Err = fmt.Sprintf("encode event: %v", err)
		e.finish(idx, st.Tenant, false)
		return
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.Timeouts.Invoke)
	defer cancel()
	ob.Start = time.Now()
	resp, err := e.inv.Invoke(ictx, InvokeRequest{
		Function:  e.opts.Function,
		Qualifier: e.opts.Qualifier,
		Tenant:    ob.Tenant,
		Payload:   payload,
		Async:     st.Async,
		Stream:    ob.Stream,
	})
	ob.Duration = time.Since(ob.Start)
	record(ob, resp, err)
	e.peers.learn(ob.Tenant, ob.Report)
	e.inboxes.learn(ob.Tenant, ob.Report)

	// An environment that crashed, timed out or ran out of memory is gone: it makes no idle
	// environment.
	survives := st.Action != probes.ActionCrash && st.Action != probes.ActionTimeout && !st.Memory
	if !st.Async || err != nil || ob.FunctionError != "" {
		e.finish(idx, st.Tenant, err == nil && survives)
		return
	}
	if e.async == nil {
		// Accepted, but the runner cannot tell when it ran: never count it as idle.
		e.finish(idx, st.Tenant, false)
		return
	}
	reports.Add(1)
	go func() {
		defer reports.Done()
		rep, err := e.async.wait(ctx, e.opts.Function, e.runID, ob.Seq, e.opts.Timeouts.AsyncReport)
		if err != nil {
			ob.Err = asyncErrText(err)
		} else {
			ob.ReportDelay = time.Since(ob.Start)
			ob.Report, ob.Err = checkReport(rep)
			e.peers.learn(ob.Tenant, ob.Report)
			e.inboxes.learn(ob.Tenant, ob.Report)
		}
		e.finish(idx, st.Tenant, ob.Report != nil && survives)
	}()
}

// record copies transport facts into the observation and decodes what the probe returned.
func record(ob *Observation, resp InvokeResponse, err error) {
	ob.StatusCode = resp.StatusCode
	ob.Retries = resp.Retries
	ob.Throttled = resp.Throttled
	if err != nil {
		ob.Err = err.Error()
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			ob.StatusCode = apiErr.StatusCode
			ob.Throttled = ob.Throttled || apiErr.StatusCode == http.StatusTooManyRequests
		}
		return
	}
	ob.FunctionError = resp.FunctionError
	if resp.FunctionError != "" {
		ob.ErrorType = errorType(resp.Payload)
		if ob.ErrorType == "" {
			ob.ErrorType = errorType([]byte(resp.ErrorDetails))
		}
		if ob.ErrorType == "" && ob.Stream && resp.FunctionError != "Unhandled" && resp.FunctionError != "Handled" {
			// A streamed invocation's InvokeComplete ErrorCode is already the error type.
			ob.ErrorType = resp.FunctionError
		}
		return
	}
	if ob.Async {
		return
	}
	var rep probes.Report
	if err := json.Unmarshal(resp.Payload, &rep); err != nil {
		ob.Err = fmt.Sprintf("decode probe report: %v", err)
		return
	}
	ob.Report, ob.Err = checkReport(&rep)
}

// checkReport refuses a report of another schema version rather than misreading it.
func checkReport(rep *probes.Report) (*probes.Report, string) {
	if rep.Schema != probes.SchemaVersion {
		return nil, fmt.Sprintf("probe report schema %d, runner reads %d", rep.Schema, probes.SchemaVersion)
	}
	return rep, ""
}

// errorType reads errorType from a Lambda function error document; "" when it is not one.
func errorType(payload []byte) string {
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(payload, &doc) != nil {
		return ""
	}
	return doc.ErrorType
}

// retryCollector is an async channel that keeps the reports of retried Event invocations.
type retryCollector interface {
	retries(ctx context.Context, function, runID string, since time.Time, want map[int64]int, timeout time.Duration) (got map[int64][]*probes.Report, readErr string)
}

// collectRetries waits for the retries of the run's failed Event invocations (those told to
// fail whose first report arrived) and keeps each retry's report on its observation. It says
// what it did for the check on where retries run; nil when the run made no such invocation.
func (e *executor) collectRetries(ctx context.Context, items []Observation) *AsyncRetries {
	want := map[int64]int{}
	var since time.Time
	for _, it := range items {
		if it.Async && it.Action == probes.ActionError && it.Report != nil {
			want[it.Seq] = e.opts.AsyncRetries
			if since.IsZero() || it.Start.Before(since) {
				since = it.Start
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	info := &AsyncRetries{Failed: len(want), Expected: e.opts.AsyncRetries}
	defer func() { e.opts.Record.retrySummary(info) }()
	rc, ok := e.async.(retryCollector)
	switch {
	case e.opts.NoAsyncRetries != "":
		info.Expected, info.NotCollected = 0, e.opts.NoAsyncRetries
		return info
	case !ok:
		info.NotCollected = "the " + e.opts.AsyncChannel + " channel carries no reports back"
		return info
	}
	if e.opts.Log != nil {
		fmt.Fprintf(e.opts.Log, "waiting up to %s for %d retries of %d failed Event invocations (TI-API-013; --async-retry-wait)\n",
			e.opts.Timeouts.AsyncRetry, len(want)*e.opts.AsyncRetries, len(want))
	}
	start := time.Now()
	got, readErr := rc.retries(ctx, e.opts.Function, e.runID, since, want, e.opts.Timeouts.AsyncRetry)
	info.ReadError = readErr
	info.Waited = time.Since(start)
	for i := range items {
		if r := got[items[i].Seq]; len(r) > 0 {
			items[i].AsyncRetries = r
			info.Received += len(r)
			e.opts.Record.retries(items[i].Seq, r)
		}
	}
	if e.opts.Log != nil {
		fmt.Fprintf(e.opts.Log, "%d of %d retries arrived in %s\n", info.Received, len(want)*e.opts.AsyncRetries, info.Waited.Round(time.Millisecond))
	}
	return info
}
