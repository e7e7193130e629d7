package runner_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// runAsyncSchedule deploys the probe on the built-in target with faults and runs the async
// schedule with the given channel. ReportSink is set on purpose: an explicit AsyncChannel must
// override it, so with the logs channel nothing can arrive through a sink.
func runAsyncSchedule(t *testing.T, channel string, faults ...string) *runner.Observations {
	t.Helper()
	srv, c := builtin(t, emulator.Config{Faults: faults, FaultRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := probefn.Deploy(ctx, c, probefn.Spec{Function: probes.Function{Zip: selfZip(t), Timeout: 10 * time.Second, PerTenant: true}})
	if err != nil {
		t.Fatalf("deploy probe: %v", err)
	}
	logs, err := runner.NewLogsClient(ctx, srv.Endpoint(), "")
	if err != nil {
		t.Fatal(err)
	}
	obs, err := runner.Run(ctx, runner.Retrying(&runner.LambdaInvoker{Client: c}, runner.RetryPolicy{}), runner.Options{
		Function: d.Name, Tenants: 2, Invocations: 32, Schedules: []string{runner.ScheduleAsync},
		Seed: 5, ErrorRate: -1, MaxTimeouts: -1,
		ReportSink: true, AsyncChannel: channel, Logs: logs,
		Timeouts: runner.Timeouts{AsyncReport: 30 * time.Second},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return obs
}

// TestAsyncReportsThroughLogsOnBuiltinTarget: with the sink disabled, every Event invocation's
// report comes back through the built-in target's CloudWatch Logs API with the right tenant,
// and a target that ignores the tenant on Event invocations is still caught from those reports.
func TestAsyncReportsThroughLogsOnBuiltinTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the probe on the built-in target")
	}
	tests := []struct {
		name    string
		channel string
		fault   string
		leak    bool
	}{
		{name: "logs", channel: runner.AsyncChannelLogs},
		{name: "logs async-shared", channel: runner.AsyncChannelLogs, fault: "async-shared", leak: true},
		// The sink on the same schedule, for the delay figures only.
		{name: "sink", channel: runner.AsyncChannelSink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var faults []string
			if tt.fault != "" {
				faults = []string{tt.fault}
			}
			obs := runAsyncSchedule(t, tt.channel, faults...)
			if !obs.Target.AsyncReports || obs.Target.AsyncChannel != tt.channel {
				t.Fatalf("target: async reports %v through %q, want %q", obs.Target.AsyncReports, obs.Target.AsyncChannel, tt.channel)
			}
			var delays []time.Duration
			envTenants := map[string][]string{}
			foreign := 0
			for _, ob := range obs.Items {
				if ob.Report == nil {
					t.Errorf("seq %d (async %v, tenant %q): no report: %s", ob.Seq, ob.Async, ob.Tenant, ob.Err)
					continue
				}
				if ob.Report.Tenant != ob.Tenant || ob.Report.ContextTenant != ob.Tenant || ob.Report.Seq != ob.Seq {
					t.Errorf("seq %d for %q: report of seq %d, tenant %q, context tenant %q",
						ob.Seq, ob.Tenant, ob.Report.Seq, ob.Report.Tenant, ob.Report.ContextTenant)
				}
				if !slices.Contains(envTenants[ob.Report.EnvID], ob.Tenant) {
					envTenants[ob.Report.EnvID] = append(envTenants[ob.Report.EnvID], ob.Tenant)
				}
				for _, f := range ob.Report.Found {
					if f.Canary.RunID == obs.RunID && f.Canary.Tenant != ob.Tenant {
						foreign++
					}
				}
				if ob.Async {
					delays = append(delays, ob.ReportDelay)
				}
			}
			shared := 0
			for env, ts := range envTenants {
				if len(ts) > 1 {
					shared++
					t.Logf("environment %s served tenants %q", env, ts)
				}
			}
			if tt.leak != (shared > 0) || tt.leak != (foreign > 0) {
				t.Errorf("%d environments shared between tenants, %d foreign canaries found; want a leak: %v", shared, foreign, tt.leak)
			}
			if len(delays) != 16 {
				t.Fatalf("%d async reports, want 16", len(delays))
			}
			slices.Sort(delays)
			t.Logf("%s: Event invoke to report arrival over %d reports: min %s, median %s, max %s", tt.channel, len(delays),
				delays[0].Round(time.Millisecond), delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
		})
	}
}

// TestRunContractAsyncThroughLogs: the contract phase's Event calls report through the logs of
// the functions the phase creates, and TI-API-008 is judged (not skipped) from them.
func TestRunContractAsyncThroughLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of environments")
	}
	for _, fault := range []string{"", "async-shared"} {
		t.Run("fault="+fault, func(t *testing.T) {
			var faults []string
			if fault != "" {
				faults = []string{fault}
			}
			srv, c := builtin(t, emulator.Config{MaxEnvironments: testCap, Faults: faults, FaultRate: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			logs, err := runner.NewLogsClient(ctx, srv.Endpoint(), "")
			if err != nil {
				t.Fatal(err)
			}
			opts := contractOpts(t, 0)
			opts.AsyncChannel, opts.Logs, opts.AsyncReportTimeout = runner.AsyncChannelLogs, logs, 30*time.Second
			co, err := runner.RunContract(ctx, c, opts)
			if err != nil {
				t.Fatalf("RunContract: %v", err)
			}
			if !co.AsyncReports || co.AsyncChannel != runner.AsyncChannelLogs || co.Skipped[runner.ContractPartAsync] != "" {
				t.Fatalf("async part: reports %v via %q, skipped %q", co.AsyncReports, co.AsyncChannel, co.Skipped[runner.ContractPartAsync])
			}
			for _, call := range co.Async {
				if call.Report == nil || call.Report.Tenant != call.Tenant {
					t.Errorf("%s %s for %q: no matching report (err %q)", call.Op, call.Case, call.Tenant, call.Err)
				}
			}
			r := contractResults(t, co)["TI-API-008"]
			want := reports.Pass
			if fault != "" {
				want = reports.Fail
			}
			if r.Status != want {
				t.Errorf("TI-API-008: %s (%s), want %s; evidence %v", r.Status, r.Reason, want, r.Evidence)
			}
		})
	}
}
