package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// runLogged deploys the probe on the built-in target with faults, runs a short schedule, reads
// the log group through the CloudWatch Logs client and judges it with the logs area.
func runLogged(t *testing.T, faults ...string) map[string]reports.CheckResult {
	t.Helper()
	srv, c := builtin(t, emulator.Config{Faults: faults, FaultRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	obs := pingPong(t, ctx, c, 11)
	logs, err := runner.NewLogsClient(ctx, srv.Endpoint(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.CollectLogs(ctx, logs, obs.Target.Function, obs, 20*time.Second); err != nil {
		t.Fatalf("collect logs: %v", err)
	}
	t.Logf("run %s, logs read in %s over %d polls", obs.Elapsed.Round(time.Millisecond), obs.Logs.Waited.Round(time.Millisecond), obs.Logs.Polls)
	if !obs.Logs.Complete {
		t.Fatalf("logs incomplete after the wait: missing %v", obs.Logs.Missing)
	}
	checks, err := suites.Select(suites.All(), []string{suites.AreaLogs}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]reports.CheckResult{}
	for _, r := range suites.Evaluate(checks, obs) {
		t.Logf("%s %s: %s", r.ID, r.Status, r.Reason)
		out[r.ID] = r
	}
	return out
}

// TestLogsAreaOnBuiltinTarget: the built-in target passes the logs area, and each log fault
// fails exactly the checks of the clause it breaks.
func TestLogsAreaOnBuiltinTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the probe on the built-in target")
	}
	tests := []struct {
		fault string
		fail  []string
	}{
		{fault: ""},
		{fault: "log-no-tenant", fail: []string{"TI-LOG-003"}},
		{fault: "log-shared-stream", fail: []string{"TI-LOG-001", "TI-LOG-002"}},
	}
	for _, tt := range tests {
		name := tt.fault
		if name == "" {
			name = "healthy"
		}
		t.Run(name, func(t *testing.T) {
			var faults []string
			if tt.fault != "" {
				faults = []string{tt.fault}
			}
			got := runLogged(t, faults...)
			if len(got) != 5 {
				t.Fatalf("want the 5 checks of the logs area, got %d", len(got))
			}
			for id, r := range got {
				want := reports.Pass
				for _, f := range tt.fail {
					if f == id {
						want = reports.Fail
					}
				}
				if r.Status != want {
					t.Errorf("%s: %s (%s), want %s; evidence %v", id, r.Status, r.Reason, want, r.Evidence)
				}
			}
		})
	}
}
