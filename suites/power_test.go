package suites

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestKeyRuleCoverage: a rule counts as covered only when two tenants colliding under it were
// both served, one after the other's invocation had finished: that is when a target keyed by the
// rule would have handed over an environment.
func TestKeyRuleCoverage(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inv := func(tenant string, startMs, durMs int, ok bool) runner.Observation {
		o := runner.Observation{Tenant: tenant, Start: t0.Add(time.Duration(startMs) * time.Millisecond),
			Duration: time.Duration(durMs) * time.Millisecond}
		if ok {
			o.Report = &probes.Report{}
		} else {
			o.Err = "connection reset"
		}
		return o
	}
	tests := []struct {
		name    string
		items   []runner.Observation
		covered bool // whether "fold" is covered
	}{
		{"one after the other", []runner.Observation{inv("Acme", 0, 10, true), inv("acme", 20, 10, true)}, true},
		{"the first again after the second", []runner.Observation{inv("acme", 0, 50, true), inv("Acme", 10, 5, true), inv("acme", 60, 5, true)}, true},
		{"only overlapping", []runner.Observation{inv("Acme", 0, 30, true), inv("acme", 10, 30, true)}, false},
		{"one never served", []runner.Observation{inv("Acme", 0, 10, true), inv("acme", 20, 10, false)}, false},
		{"no colliding pair", []runner.Observation{inv("Acme", 0, 10, true), inv("other", 20, 10, true)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Power(&runner.Observations{Items: tc.items})
			if p.KeyRules == nil {
				t.Fatal("no keyRules")
			}
			if got := slices.Contains(p.KeyRules.Covered, "fold"); got != tc.covered {
				t.Errorf("fold covered = %v, want %v (%+v)", got, tc.covered, p.KeyRules)
			}
			if n := len(p.KeyRules.Covered) + len(p.KeyRules.NotCovered); n < 40 {
				t.Errorf("%d rules accounted for", n)
			}
		})
	}
}

func TestInvocationPaths(t *testing.T) {
	obs := &runner.Observations{Items: []runner.Observation{
		{Tenant: "a"}, {Tenant: "a", Async: true}, {Tenant: "b", Stream: true},
		{Tenant: "b", Action: probes.ActionCrash}, {Tenant: "a", Async: true, Action: probes.ActionError},
	}}
	want := []reports.PathCount{{Path: "sync", Invocations: 2}, {Path: "event", Invocations: 2}, {Path: "stream", Invocations: 1},
		{Path: "error", Invocations: 1}, {Path: "crash", Invocations: 1}, {Path: "timeout", Invocations: 0}}
	if got := Power(obs).Paths; !slices.Equal(got, want) {
		t.Errorf("paths = %v, want %v", got, want)
	}
}

// TestLeakNamesCollidingRules: a leak between IDs that share a key under a wrong-key rule says so.
func TestLeakNamesCollidingRules(t *testing.T) {
	for _, id := range []string{"TI-MEM-001", "TI-ENV-001"} {
		r := Evaluate([]Check{checkByID(t, id)}, load(t, "recycled.json"))[0]
		if r.Status != reports.Fail || len(r.Evidence) == 0 {
			t.Fatalf("%s: got %s with %d evidence, want FAIL", id, r.Status, len(r.Evidence))
		}
		e := r.Evidence[0]
		if e.Fields["collidesUnder"] != "fold" || !strings.HasSuffix(e.Message, "share a key under the wrong-key rule(s) fold") {
			t.Errorf("%s: collidesUnder %q, message %q", id, e.Fields["collidesUnder"], e.Message)
		}
	}
}
