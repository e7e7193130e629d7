package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/hashicorp/go-multierror"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

func (f *runFlags) region() string {
	if f.aws.region != "" {
		return f.aws.region
	}
	return "us-east-1"
}

// session is one run against one target: what the target stood up and what the phases share.
// execute's deferred cleanups take down what it created, in reverse.
type session struct {
	f      *runFlags
	tgt    target
	stderr io.Writer
	checks []suites.Check
	// endpoint is the target's Lambda endpoint ("" on AWS); label names the target in reports.
	endpoint, label string
	client          *lambda.Client
	function        string
	// role is the execution role of functions the contract phase creates.
	role string
	// zipMu guards zip and arch: the contract and lifecycle phases ask for them at once.
	zipMu sync.Mutex
	zip   []byte
	arch  string
	// asyncChannel is how Event invocations report back (runner.AsyncChannel*); logs is the
	// target's CloudWatch Logs client, for that channel and the logs area.
	asyncChannel string
	logs         runner.LogsClient
	// logGroup is where the function under test logs.
	logGroup string
	// forwarder makes the run's own loopback services reachable from inside the target's
	// environments (nil: the target reaches the host's loopback, or none of it).
	forwarder runner.Forwarder
	// frontDoor is the target's own API as the run reaches it, for TI-NET-002.
	frontDoor *runner.FrontDoor
	// record is the observations file (run --observations); nil writes nothing.
	record *runner.Record
	// watch sees every call to the target's Lambda API and stops the run when the target no
	// longer answers (killed, or its machine gone).
	watch    *runner.TargetWatch
	cleanups []func(context.Context) error
}

func (s *session) defer_(fn func(context.Context) error) { s.cleanups = append(s.cleanups, fn) }

func (s *session) wants(area string) bool {
	return slices.ContainsFunc(s.checks, func(c suites.Check) bool { return c.Area == area })
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.stderr, "tenantcheck: "+format+"\n", args...)
}

// phase logs how long fn took under name.
func (s *session) phase(name string, fn func()) {
	t0 := time.Now()
	fn()
	s.logf("%s in %s", name, time.Since(t0).Round(time.Millisecond))
}

// execute is one whole run: stand up the target, deploy the probe, run every phase the selected
// checks need, assemble their results into one record, judge it once and build the report once.
// Everything it created is taken down in reverse order whatever happened in between (Ctrl-C
// included: cleanups run on a context detached from the cancelled one).
func (f *runFlags) execute(ctx context.Context, checks []suites.Check, stderr io.Writer, info runner.RunInfo) (rep *reports.Report, retErr error) {
	s := &session{f: f, tgt: newTarget(f), stderr: &lockedWriter{w: stderr}, checks: checks, role: f.role}
	// The run's context ends on Ctrl-C (the caller's) or when the target stops answering (the
	// watch's cause); either way the phases stop and what they saw is judged, with no PASS.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.watch = &runner.TargetWatch{Gone: func(err error) {
		s.logf("%v; stopping the run", err)
		stop(err)
	}}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			if err := s.cleanups[i](cctx); err != nil {
				retErr = multierror.Append(retErr, err)
			}
		}
	}()
	started := time.Now()
	if err := s.open(ctx); err != nil {
		return s.notStarted(info, started, err), err
	}
	info.Target, info.Function, info.Started = s.label, s.function, time.Now().UTC()
	for _, c := range checks {
		info.Checks = append(info.Checks, c.ID)
	}
	if f.observations != "" {
		rec, err := runner.CreateRecord(f.observations, info)
		if err != nil {
			return nil, toolError("--observations: %w", err)
		}
		s.record = rec
		defer func() { _ = rec.Close() }() // End closes it on the way out; this covers an early return
	}
	res := s.runPhases(ctx, info.Started)
	if res.isolation == nil {
		// The schedules never began (Ctrl-C or a gone target before the first invocation, an
		// async channel that could not open): still a report, every check ERROR with why.
		err := toolError("run: %w", res.runErr)
		return s.notStarted(info, started, err), err
	}
	obs := res.assemble(s.label)
	s.record.Target(obs.Target)
	for _, g := range obs.Incomplete {
		s.record.Gap(g)
	}
	rep = buildReport(info, obs, suites.Judge(obs, checks), time.Since(info.Started))
	if err := s.record.End(obs, rep.Elapsed); err != nil {
		retErr = multierror.Append(retErr, toolError("--observations: %w", err))
	}
	if res.runErr != nil {
		retErr = multierror.Append(retErr, toolError("run: %w", res.runErr))
	}
	return rep, retErr
}

// notStarted is the report of a run that could not open its target: every selected check is
// ERROR with why, so the requested reports are still written (and the exit code is 2).
func (s *session) notStarted(info runner.RunInfo, started time.Time, err error) *reports.Report {
	label := "built-in"
	switch {
	case s.label != "":
		label = s.label
	case s.f.endpoint != "":
		label = s.f.endpoint
	case s.f.useAWS:
		label = "aws"
	}
	info.Target, info.Function, info.Started = label, s.function, started.UTC()
	info.Checks = nil
	for _, c := range s.checks {
		info.Checks = append(info.Checks, c.ID)
	}
	why := "the run stopped before it could observe anything: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	results := append(suites.NotRun(s.checks, why), suites.Skipped(suites.Complement(suites.All(), s.checks), suites.DeselectedReason)...)
	return buildReport(info, &runner.Observations{Seed: info.Seed}, results, time.Since(started))
}

// open stands the target up, chooses the async channel and puts the probe in place.
func (s *session) open(ctx context.Context) error {
	if err := s.tgt.open(ctx, s); err != nil {
		return err
	}
	s.asyncChannel = s.f.asyncChannel
	if s.asyncChannel == "auto" || s.asyncChannel == "" {
		s.asyncChannel = s.tgt.autoAsyncChannel(s)
	}
	if s.asyncChannel == runner.AsyncChannelLogs {
		if _, err := s.logsClient(ctx); err != nil {
			return toolError("async reports through logs: %w", err)
		}
	}
	if err := s.tgt.deploy(ctx, s); err != nil {
		return err
	}
	s.logGroup = s.tgt.logGroup(ctx, s)
	return nil
}

// logsClient is the target's CloudWatch Logs client, made once.
func (s *session) logsClient(ctx context.Context) (runner.LogsClient, error) {
	if s.logs != nil {
		return s.logs, nil
	}
	lc, err := s.tgt.newLogsClient(ctx, s)
	if err != nil {
		return nil, err
	}
	s.logs = lc
	return lc, nil
}

// dropZipUnlessNeeded lets the probe package go once it is deployed when no phase of the run
// creates functions of its own: it is tens of MB held for the whole run otherwise, the largest
// thing in a 10,000-tenant run's memory.
func (s *session) dropZipUnlessNeeded() {
	if s.wants(suites.AreaContract) || s.wants(suites.AreaLifecycle) || s.wants(suites.AreaGateway) {
		return
	}
	s.zipMu.Lock()
	s.zip = nil
	s.zipMu.Unlock()
	debug.FreeOSMemory()
}

// probeZip packages the probe once for the deploy and the phases that create functions.
func (s *session) probeZip(ctx context.Context) ([]byte, string, error) {
	s.zipMu.Lock()
	defer s.zipMu.Unlock()
	if s.zip == nil {
		zip, arch, err := s.tgt.probeZip(ctx, s)
		if err != nil {
			return nil, "", toolError("package probe: %w", err)
		}
		s.zip, s.arch = zip, arch
	}
	return s.zip, s.arch, nil
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

// buildReport is the one place a report is made, from a judged record: `run` and `judge` call it
// alike, so their JSON reports differ only in timing.
func buildReport(info runner.RunInfo, obs *runner.Observations, results []reports.CheckResult, elapsed time.Duration) *reports.Report {
	return &reports.Report{
		SchemaVersion: reports.SchemaVersion,
		Tool:          "tenantcheck",
		ToolVersion:   toolVersion(),
		RunID:         obs.RunID,
		Seed:          info.Seed,
		Replay:        info.Replay,
		Target:        info.Target,
		Function:      info.Function,
		Started:       info.Started,
		Elapsed:       elapsed,
		Power:         suites.Power(obs),
		Coverage:      suites.Coverage(obs),
		Checks:        results,
		Summary:       reports.Summarize(results),
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lockedWriter serialises writes to w: the phases that run side by side (contract, lifecycle,
// the schedules) all report progress on the run's stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Fd passes the underlying file's descriptor through, so a progress bar still knows whether it
// draws on a terminal; without one it is an invalid descriptor, never a terminal.
func (l *lockedWriter) Fd() uintptr {
	if f, ok := l.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
