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
	// run: blue's Event invocation failed in env-b and was retried as given; green's failed in
	// env-g and, when greenToo, was retried there twice.
	runWith := func(greenToo bool, retries ...*probes.Report) *runner.Observations {
		var greens []*probes.Report
		if greenToo {
			greens = []*probes.Report{rep("env-g", "green"), rep("env-g", "green")}
		}
		return &runner.Observations{
			Target: runner.TargetInfo{AsyncRetries: &runner.AsyncRetries{Failed: 2, Expected: 2, Received: len(retries) + len(greens), Waited: time.Second}},
			Items: []runner.Observation{
				{Seq: 1, Tenant: "blue", Async: true, Action: probes.ActionError, Report: rep("env-b", "blue"), AsyncRetries: retries},
				{Seq: 2, Tenant: "green", Async: true, Action: probes.ActionError, Report: rep("env-g", "green"), AsyncRetries: greens},
				{Seq: 3, Tenant: "Blue", Report: rep("env-B", "Blue")},
			},
		}
	}
	run := func(retries ...*probes.Report) *runner.Observations { return runWith(true, retries...) }
	tests := []struct {
		name   string
		obs    *runner.Observations
		status reports.Status
		reason string
		field  string // an evidence field the first finding must carry
	}{
		{"retries in the tenant's own environments", run(rep("env-b", "blue"), rep("env-b2", "blue")), reports.Pass, "4 of 4 expected retries", ""},
		{"one tenant's retries only", runWith(false, rep("env-b", "blue"), rep("env-b", "blue")), reports.Inconclusive, "retries of only one tenant arrived", ""},
		{"a retry in another tenant's environment", run(rep("env-g", "blue")), reports.Fail, "3 violations", "otherTenants"}, // green's own retries there count too
		{"a retry in a twin's environment names the rule", run(rep("env-B", "blue")), reports.Fail, "1 violation", "collidesUnder"},
		{"a retry told another tenant", run(rep("env-b", "green")), reports.Fail, "1 violation", "got"},
		{"no retry arrived", runWith(false), reports.Inconclusive, "no retry of 2 failed Event invocations arrived within 1s", ""},
		{"reads failing", &runner.Observations{Target: runner.TargetInfo{AsyncRetries: &runner.AsyncRetries{Failed: 2, Expected: 2, ReadError: "AccessDeniedException"}}},
			reports.Inconclusive, "reading the reports failed: AccessDeniedException", ""},
		{"no failing Event invocation", &runner.Observations{}, reports.Skip, "made no failing Event invocation", ""},
		{"not collected", &runner.Observations{Target: runner.TargetInfo{AsyncRetries: &runner.AsyncRetries{Failed: 1, NotCollected: "the none channel carries no reports back"}}},
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
