package suites

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

func TestAsyncRetries(t *testing.T) {
	rep := func(env, tenant string) *probes.Report {
		return &probes.Report{EnvID: env, ContextTenant: tenant, RequestID: "req-" + env}
	}
	// run: blue's Event invocation failed in env-b and was retried; green used env-g.
	run := func(retries ...*probes.Report) *runner.Observations {
		received := len(retries)
		return &runner.Observations{
			Target: runner.TargetInfo{AsyncRetries: &runner.AsyncRetries{Failed: 1, Expected: 2, Received: received, Waited: time.Second}},
			Items: []runner.Observation{
				{Seq: 1, Tenant: "blue", Async: true, Action: probes.ActionError, Report: rep("env-b", "blue"), AsyncRetries: retries},
				{Seq: 2, Tenant: "green", Report: rep("env-g", "green")},
				{Seq: 3, Tenant: "Blue", Report: rep("env-B", "Blue")},
			},
		}
	}
	tests := []struct {
		name   string
		obs    *runner.Observations
		status reports.Status
		reason string
		field  string // an evidence field the first finding must carry
	}{
		{"retries in the tenant's own environments", run(rep("env-b", "blue"), rep("env-b2", "blue")), reports.Pass, "2 of 2 expected retries", ""},
		{"a retry in another tenant's environment", run(rep("env-g", "blue")), reports.Fail, "1 violation", "otherTenants"},
		{"a retry in a twin's environment names the rule", run(rep("env-B", "blue")), reports.Fail, "1 violation", "collidesUnder"},
		{"a retry told another tenant", run(rep("env-b", "green")), reports.Fail, "1 violation", "got"},
		{"no retry arrived", run(), reports.Inconclusive, "no retry of 1 failed Event invocation arrived within 1s", ""},
		{"no failing Event invocation", &runner.Observations{}, reports.Skip, "made no failing Event invocation", ""},
		{"logs channel", &runner.Observations{Target: runner.TargetInfo{AsyncRetries: &runner.AsyncRetries{Failed: 1, NotCollected: "the logs channel does not collect retried reports"}}},
			reports.Skip, "retries not collected", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate([]Check{retryCheck()}, tc.obs)[0]
			if r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("%s %q, want %s containing %q", r.Status, r.Reason, tc.status, tc.reason)
			}
			if tc.field != "" && (len(r.Evidence) == 0 || r.Evidence[0].Fields[tc.field] == "") {
				t.Errorf("evidence %v lacks %s", r.Evidence, tc.field)
			}
		})
	}
}
