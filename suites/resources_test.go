package suites

import (
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// lockRun is two reports of a run: seq 1 (tenant a) planted a lock with token 0badcafe; seq 2,
// of finder, found a lock with token found.
func lockRun(finder, found string) *runner.Observations {
	planter := &probes.Report{RunID: "r", EnvID: "env-a", Tenant: "a", Seq: 1, Invocations: 2,
		Planted: []probes.PlantResult{{Place: probes.PlaceLocks, Planted: true, Nonce: "0badcafe00000000"}}}
	seeker := &probes.Report{RunID: "r", EnvID: "env-b", Tenant: finder, Seq: 2, Invocations: 2,
		Planted: []probes.PlantResult{{Place: probes.PlaceLocks, Planted: true, Nonce: "1111111100000000"}}}
	if found != "" {
		seeker.Found = []probes.Found{{Canary: probes.Canary{Nonce: found, Place: probes.PlaceLocks}, Place: probes.PlaceLocks, Where: "lock"}}
	}
	return &runner.Observations{RunID: "r", Tenants: []string{"a", "b"}, Items: []runner.Observation{
		{Seq: 1, Tenant: "a", Report: planter}, {Seq: 2, Tenant: finder, Report: seeker}}}
}

func TestLockCheck(t *testing.T) {
	tests := []struct {
		name, finder, found string
		want                reports.Status
		wantPlanter         string
	}{
		{"no lock found", "b", "", reports.Pass, ""},
		{"another tenant's lock", "b", "0badcafe", reports.Fail, "a"},
		{"own tenant's lock from another environment", "a", "0badcafe", reports.Pass, ""},
		{"a lock no invocation of the run planted", "b", "deadbeef", reports.Pass, ""},
	}
	check := checkByID(t, "TI-LOCK-001")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := lockRun(tt.finder, tt.found)
			res := check.Evaluate(obs)
			if res.Status != tt.want {
				t.Fatalf("status %s (%s), want %s", res.Status, res.Reason, tt.want)
			}
			if tt.wantPlanter != "" && (len(res.Evidence) == 0 || res.Evidence[0].Fields["plantedTenant"] != tt.wantPlanter) {
				t.Errorf("evidence %+v, want plantedTenant %q", res.Evidence, tt.wantPlanter)
			}
			if tt.found == "deadbeef" && !strings.Contains(res.Reason, "1 lock(s) of another environment") {
				t.Errorf("reason %q does not name the unaccounted lock", res.Reason)
			}
			if obs.Items[1].Report.Found != nil && obs.Items[1].Report.Found[0].Canary.Tenant != "" {
				t.Error("judging modified the observations")
			}
		})
	}
}

// TestResourceChecks judges the memory and freezer checks on hand-made runs.
func TestResourceChecks(t *testing.T) {
	report := func(idle *probes.IdleWindow, mem *probes.MemoryAttempt) *probes.Report {
		return &probes.Report{RunID: "r", EnvID: "env", Tenant: "a", Invocations: 2, Idle: idle, Memory: mem}
	}
	tests := []struct {
		name  string
		check string
		items []runner.Observation
		want  reports.Status
	}{
		{"memory: out of memory", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, FunctionError: "Unhandled", ErrorType: "Runtime.OutOfMemory"}}, reports.Pass},
		{"memory: child killed", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, Report: report(nil, &probes.MemoryAttempt{LimitMB: 640, RequestedMB: 704, Killed: true})}}, reports.Pass},
		{"memory: allocated", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, Report: report(nil, &probes.MemoryAttempt{LimitMB: 640, RequestedMB: 704, Allocated: true})}}, reports.Fail},
		{"memory: other error", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, FunctionError: "Unhandled", ErrorType: "EventError"}}, reports.Skip},
		{"memory: no attempt", "TI-RES-001", []runner.Observation{{Tenant: "a", Report: report(nil, nil)}}, reports.Skip},
		{"memory: unfinished, limited", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, Report: report(nil, &probes.MemoryAttempt{LimitMB: 640, RequestedMB: 704, Unfinished: true, CgroupLimitMB: 640})}}, reports.Pass},
		{"memory: unfinished, no limit", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, Report: report(nil, &probes.MemoryAttempt{LimitMB: 640, RequestedMB: 704, Unfinished: true, CgroupLimitMB: -1})}}, reports.Fail},
		{"memory: unfinished, limit unreadable", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, Report: report(nil, &probes.MemoryAttempt{LimitMB: 640, RequestedMB: 704, Unfinished: true})}}, reports.Skip},
		{"idle: frozen", "TI-RES-002", []runner.Observation{{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 255}, nil)}}, reports.Pass},
		{"idle: running", "TI-RES-002", []runner.Observation{{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 12}, nil)}}, reports.Fail},
		{"idle: frozen too late", "TI-RES-002", []runner.Observation{{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 300, StoppedMs: 120}, nil)}}, reports.Fail},
		{"memory: child ended without a signal", "TI-RES-001", []runner.Observation{{Tenant: "a", Memory: true, Report: report(nil, &probes.MemoryAttempt{LimitMB: 640, RequestedMB: 704, Detail: "exit status 3"})}}, reports.Skip},
		{"idle: one window of three running", "TI-RES-002", []runner.Observation{
			{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 255}, nil)},
			{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 11}, nil)},
			{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 250}, nil)}}, reports.Pass},
		{"idle: two windows of three running", "TI-RES-002", []runner.Observation{
			{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 255}, nil)},
			{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 11}, nil)},
			{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 260, StoppedMs: 12}, nil)}}, reports.Fail},
		{"idle: windows too short", "TI-RES-002", []runner.Observation{{Tenant: "a", Report: report(&probes.IdleWindow{WindowMs: 40, StoppedMs: 2}, nil)}}, reports.Skip},
		{"idle: no reuse", "TI-RES-002", []runner.Observation{{Tenant: "a", Report: &probes.Report{RunID: "r", EnvID: "env", Tenant: "a", Invocations: 1, Cold: true}}}, reports.Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &runner.Observations{RunID: "r", Tenants: []string{"a", "b"}, Items: tt.items}
			if res := checkByID(t, tt.check).Evaluate(obs); res.Status != tt.want {
				t.Errorf("%s = %s (%s), want %s", tt.check, res.Status, res.Reason, tt.want)
			}
		})
	}
}
