package suites

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// healthyLifecycle is a hand-made lifecycle phase of a target that starts fresh environments
// after every update, for every burst and after every eviction. Calls are a millisecond apart,
// in the order the phase makes them.
func healthyLifecycle() *runner.LifecycleObservations {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	n := 0
	at := func() time.Time { n++; return t0.Add(time.Duration(n) * time.Millisecond) }
	call := func(kase, tenant, env string) runner.ContractCall {
		return runner.ContractCall{Op: "Invoke", Case: kase, Function: "fn-life", Tenant: tenant, HasTenant: true, StatusCode: 200,
			Start: at(), Report: &probes.Report{EnvID: env, ContextTenant: tenant}}
	}
	update := func(op string) runner.ContractCall {
		return runner.ContractCall{Op: op, Case: "update", Function: "fn-life", StatusCode: 200, Start: at()}
	}
	lo := &runner.LifecycleObservations{Function: "fn-life", Cap: 2, Burst: 2, Quiet: 5 * time.Second, IdleTimeout: 2 * time.Second, Events: map[string][]runner.ContractCall{}}
	lo.Events[runner.LifecycleUpdate] = []runner.ContractCall{
		call("before", "a", "env-a1"), call("before", "b", "env-b1"),
		update("UpdateFunctionConfiguration"),
		call("after", "c", "env-c2"), call("after", "b", "env-b2"), call("after", "a", "env-a2"),
		update("UpdateFunctionCode"),
		call("after", "d", "env-d3"), call("after", "b", "env-b3"), call("after", "a", "env-a3"),
	}
	lo.Events[runner.LifecycleBurst] = []runner.ContractCall{
		call("idle", "i1", "env-i1"), call("idle", "i2", "env-i2"),
		call("burst", "x", "env-x1"), call("burst", "x", "env-x2"),
	}
	lo.Events[runner.LifecycleCap] = []runner.ContractCall{
		call("fill", "k1", "env-k1"), call("fill", "k2", "env-k2"), call("fill", "k3", "env-k3"), call("fill", "k4", "env-k4"),
		call("return", "k1", "env-k1b"), call("return", "k2", "env-k2b"),
	}
	lo.Events[runner.LifecycleQuiet] = []runner.ContractCall{
		call("before", "q1", "env-q1"), call("before", "q2", "env-q2"),
		call("after", "q3", "env-q3"), call("after", "q2", "env-q2b"), call("after", "q1", "env-q1b"),
	}
	return lo
}

func TestLifecycleChecks(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		mutate func(lo *runner.LifecycleObservations)
		want   reports.Status
		reason string // a part of the reason
	}{
		{"healthy update", "TI-LIFE-001", nil, reports.Pass, "2 updates of the function mid-traffic; 4 tenants served after them"},
		{"healthy burst", "TI-LIFE-002", nil, reports.Pass, "ran in 2 environments"},
		{"healthy cap", "TI-LIFE-003", nil, reports.Pass, "returning, 2 of them ran in a fresh environment"},
		{"update hands an old environment to a new tenant", "TI-LIFE-001", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleUpdate][3].Report.EnvID = "env-a1"
		}, reports.Fail, `2 violations: invocation "before" of the update event for tenant "a" ran in environment env-a1, which also served "c"`},
		{"an environment kept for its own tenant is named, not failed", "TI-LIFE-001", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleUpdate][5].Report.EnvID = "env-a1"
		}, reports.Pass, "1 environment kept serving its tenant across an update"},
		{"every update refused", "TI-LIFE-001", func(lo *runner.LifecycleObservations) {
			for i, c := range lo.Events[runner.LifecycleUpdate] {
				if c.Case == "update" {
					lo.Events[runner.LifecycleUpdate][i].StatusCode, lo.Events[runner.LifecycleUpdate][i].ErrorCode = 403, "AccessDeniedException"
				}
			}
		}, reports.Inconclusive, "no update of the function went through"},
		{"burst borrows an idle environment", "TI-LIFE-002", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleBurst][3].Report.EnvID = "env-i2"
		}, reports.Fail, `2 violations: invocation "idle" of the burst event for tenant "i2" ran in environment env-i2, which also served "x"`},
		{"burst served one at a time", "TI-LIFE-002", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleBurst][3].Report.EnvID = "env-x1"
		}, reports.Inconclusive, "fewer than two environments"},
		{"evicted environment handed to the next tenant", "TI-LIFE-003", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleCap][2].Report.EnvID = "env-k1"
		}, reports.Fail, `2 violations: invocation "fill" of the cap event for tenant "k1" ran in environment env-k1, which also served "k3"`},
		{"nothing evicted", "TI-LIFE-003", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleCap][4].Report.EnvID = "env-k1"
			lo.Events[runner.LifecycleCap][5].Report.EnvID = "env-k2"
		}, reports.Inconclusive, "never evicted one"},
		{"cap unknown", "TI-LIFE-003", func(lo *runner.LifecycleObservations) {
			lo.Skipped = map[string]string{runner.LifecycleCap: "environment cap unknown"}
		}, reports.Skip, "cap event not run: environment cap unknown"},
		{"healthy quiet", "TI-LIFE-004", nil, reports.Pass, "after 5s of quiet (past an idle timeout of 2s) 2 returning tenants ran in fresh environments"},
		{"a parked environment handed to a new tenant", "TI-LIFE-004", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleQuiet][2].Report.EnvID = "env-q1"
		}, reports.Fail, `2 violations: invocation "before" of the quiet event for tenant "q1" ran in environment env-q1, which also served "q3"`},
		{"nothing idled out", "TI-LIFE-004", func(lo *runner.LifecycleObservations) {
			lo.Events[runner.LifecycleQuiet][3].Report.EnvID = "env-q2"
			lo.Events[runner.LifecycleQuiet][4].Report.EnvID = "env-q1"
		}, reports.Inconclusive, "the target evicted none"},
		{"idle timeout too long", "TI-LIFE-004", func(lo *runner.LifecycleObservations) {
			lo.Skipped = map[string]string{runner.LifecycleQuiet: "the target's idle timeout 5m0s is longer than the phase waits"}
		}, reports.Skip, "quiet event not run: the target's idle timeout 5m0s"},
		{"nothing idle beside the burst", "TI-LIFE-002", func(lo *runner.LifecycleObservations) {
			b := lo.Events[runner.LifecycleBurst]
			b[0].StatusCode, b[0].Report, b[1].StatusCode, b[1].Report = 429, nil, 429, nil
		}, reports.Inconclusive, "fewer than two tenants left an idle environment"},
		{"a returning tenant whose fill has no report proves no eviction", "TI-LIFE-003", func(lo *runner.LifecycleObservations) {
			c := lo.Events[runner.LifecycleCap]
			c[0].StatusCode, c[0].Report, c[1].StatusCode, c[1].Report = 503, nil, 503, nil
		}, reports.Inconclusive, "never evicted one"},
		{"no environment before the updates", "TI-LIFE-001", func(lo *runner.LifecycleObservations) {
			u := lo.Events[runner.LifecycleUpdate]
			u[0].StatusCode, u[0].Report, u[1].StatusCode, u[1].Report = 429, nil, 429, nil
		}, reports.Inconclusive, "fewer than two tenants had an environment before them"},
		{"throttled burst is not judged", "TI-LIFE-002", func(lo *runner.LifecycleObservations) {
			b := lo.Events[runner.LifecycleBurst]
			b[3].StatusCode, b[3].Report = 429, nil
		}, reports.Inconclusive, "1 call not judged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := healthyLifecycle()
			if tt.mutate != nil {
				tt.mutate(lo)
			}
			got := evalLifecycle(t, tt.id, &runner.Observations{Lifecycle: lo})
			if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("%s = %s (%s), want %s containing %q", tt.id, got.Status, got.Reason, tt.want, tt.reason)
			}
			if got.Status == reports.Fail && len(got.Evidence) == 0 {
				t.Error("a FAIL without evidence")
			}
		})
	}
}

func TestLifecycleChecksSkipWithoutPhase(t *testing.T) {
	for _, obs := range []*runner.Observations{{}, {Lifecycle: runner.SkippedLifecycle("needs --role")}} {
		for _, c := range lifecycleChecks() {
			got := evalLifecycle(t, c.ID, obs)
			if got.Status != reports.Skip || !strings.Contains(got.Reason, "lifecycle phase not run") {
				t.Errorf("%s = %s (%s), want SKIP: lifecycle phase not run", c.ID, got.Status, got.Reason)
			}
		}
	}
}

// evalLifecycle evaluates one lifecycle check by ID.
func evalLifecycle(t *testing.T, id string, obs *runner.Observations) reports.CheckResult {
	t.Helper()
	for _, c := range lifecycleChecks() {
		if c.ID == id {
			return Evaluate([]Check{c}, obs)[0]
		}
	}
	t.Fatalf("no check %s", id)
	return reports.CheckResult{}
}
