package suites

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

var (
	leakIDs = []string{"TI-MEM-001", "TI-TMP-001", "TI-FS-001", "TI-VAR-001", "TI-BG-001", "TI-CRED-001", "TI-PROC-001"}
	allIDs  = append(append([]string{"TI-ENV-001"}, leakIDs...), "TI-FS-002", "TI-CTX-001", "TI-REUSE-001")
)

// want builds an expected status per check ID: set(s, ids...) calls apply left to right.
type want map[string]reports.Status

func expect(pairs ...any) want {
	w := want{}
	for i := 0; i < len(pairs); i += 2 {
		st := pairs[i].(reports.Status)
		switch ids := pairs[i+1].(type) {
		case string:
			w[ids] = st
		case []string:
			for _, id := range ids {
				w[id] = st
			}
		}
	}
	return w
}

func TestIsolationStatuses(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		mutate  func(*runner.Observations)
		want    want
	}{
		{
			name: "healthy target passes everything", fixture: "healthy.json",
			want: expect(reports.Pass, allIDs),
		},
		{
			name: "recycled environment fails every leak check", fixture: "recycled.json",
			want: expect(reports.Fail, allIDs, reports.Warn, "TI-FS-002", reports.Pass, "TI-REUSE-001"),
		},
		{
			name: "no reuse makes leak checks inconclusive", fixture: "healthy.json", mutate: allCold,
			want: expect(reports.Inconclusive, allIDs, reports.Pass, []string{"TI-FS-002", "TI-CTX-001"}),
		},
		{
			name: "places declared missing are skipped", fixture: "healthy.json",
			mutate: func(o *runner.Observations) { declareMissing(o, allPlaces...) },
			want: expect(reports.Skip, leakIDs, reports.Skip, "TI-FS-002",
				reports.Pass, []string{"TI-ENV-001", "TI-CTX-001", "TI-REUSE-001"}),
		},
		{
			name: "mostly transport errors is ERROR", fixture: "healthy.json",
			mutate: func(o *runner.Observations) { addFailures(o, 5, false) },
			want:   expect(reports.Error, allIDs),
		},
		{
			name: "throttled after retries is ERROR, never PASS", fixture: "healthy.json",
			mutate: func(o *runner.Observations) { addFailures(o, 5, true) },
			want:   expect(reports.Error, allIDs),
		},
		{
			name: "exactly half failed is still judged", fixture: "healthy.json",
			mutate: func(o *runner.Observations) { addFailures(o, 4, true) },
			want:   expect(reports.Pass, allIDs),
		},
		{
			name: "zero reports is ERROR", fixture: "healthy.json",
			mutate: func(o *runner.Observations) {
				for i := range o.Items {
					o.Items[i].Report = nil // e.g. every async report lost
				}
			},
			want: expect(reports.Error, allIDs),
		},
		{
			name: "never plantable places are skipped", fixture: "healthy.json",
			mutate: func(o *runner.Observations) {
				eachReport(o, func(r *probes.Report) {
					for i := range r.Planted {
						r.Planted[i] = probes.PlantResult{Place: r.Planted[i].Place, Error: "read-only file system"}
					}
				})
			},
			want: expect(reports.Pass, allIDs, reports.Skip, leakIDs),
		},
		{
			name: "a leak fails even without reuse", fixture: "recycled.json", mutate: allCold,
			want: expect(reports.Fail, allIDs, reports.Warn, "TI-FS-002", reports.Inconclusive, "TI-REUSE-001"),
		},
		{
			name: "a confirmed leak fails even when most invocations were throttled", fixture: "recycled.json",
			mutate: func(o *runner.Observations) { addFailures(o, 10, true) },
			want:   expect(reports.Fail, allIDs, reports.Warn, "TI-FS-002", reports.Error, "TI-REUSE-001"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := load(t, tt.fixture)
			if tt.mutate != nil {
				tt.mutate(obs)
			}
			got := statuses(t, obs)
			if len(got) != len(allIDs) {
				t.Fatalf("evaluated %d checks, want %d", len(got), len(allIDs))
			}
			for _, id := range allIDs {
				r := got[id]
				if r.Status != tt.want[id] {
					t.Errorf("%s: status %s, want %s (reason: %s)", id, r.Status, tt.want[id], r.Reason)
				}
				if r.Reason == "" {
					t.Errorf("%s: empty reason", id)
				}
				if strings.Contains(r.Reason, "\n") {
					t.Errorf("%s: reason is not one line: %q", id, r.Reason)
				}
				if (r.Status == reports.Fail || r.Status == reports.Warn) && len(r.Evidence) == 0 {
					t.Errorf("%s: %s without evidence", id, r.Status)
				}
			}
		})
	}
}

func TestReasons(t *testing.T) {
	tests := []struct {
		name, fixture, id string
		mutate            func(*runner.Observations)
		want              []string
	}{
		{name: "pass states figures", fixture: "healthy.json", id: "TI-MEM-001",
			want: []string{"0 leaks in 4 invocations, 2 warm, 2 opportunities, 4 canaries planted"}},
		{name: "fail states count", fixture: "recycled.json", id: "TI-FS-001",
			want: []string{"4 leaks (4 distinct canaries) across tenants in 3 invocations, 1 warm, 1 opportunities"}},
		{name: "no reuse", fixture: "healthy.json", id: "TI-TMP-001", mutate: allCold,
			want: []string{"no environment was reused, so no chance to leak was created"}},
		{name: "skip quotes the target", fixture: "healthy.json", id: "TI-TMP-001",
			mutate: func(o *runner.Observations) { declareMissing(o, probes.PlaceTmp) },
			want:   []string{"tmp: no mount namespace on this host"}},
		{name: "skip quotes plant errors", fixture: "healthy.json", id: "TI-FS-001",
			mutate: func(o *runner.Observations) {
				eachReport(o, func(r *probes.Report) {
					for i := range r.Planted {
						if r.Planted[i].Place != probes.PlaceCodeDir {
							r.Planted[i] = probes.PlantResult{Place: r.Planted[i].Place, Error: "ENOSPC"}
						}
					}
				})
			},
			want: []string{"no canary could be planted", "dev-shm: ENOSPC", "code-dir: read-only, as it should be (TI-FS-002)"}},
		{name: "partial pass names unplantable places", fixture: "healthy.json", id: "TI-FS-001",
			want: []string{"0 leaks", "never planted: code-dir: read-only, as it should be"}},
		{name: "throttling is named", fixture: "healthy.json", id: "TI-ENV-001",
			mutate: func(o *runner.Observations) { addFailures(o, 5, true) },
			want:   []string{"5 of 9 invocations failed (5 throttled after retries): cannot judge"}},
		{name: "a few failures are named in a pass", fixture: "healthy.json", id: "TI-MEM-001",
			mutate: func(o *runner.Observations) { addFailures(o, 2, false) },
			want:   []string{"0 leaks in 6 invocations, 2 warm, 2 opportunities, 2 failed"}},
		{name: "zero reports", fixture: "healthy.json", id: "TI-CTX-001",
			mutate: func(o *runner.Observations) { o.Items = nil },
			want:   []string{"no probe reports: cannot judge"}},
		{name: "reuse positive control", fixture: "healthy.json", id: "TI-REUSE-001",
			want: []string{"2 of 4 reports were warm, in 2 environments"}},
		{name: "reuse not required", fixture: "healthy.json", id: "TI-REUSE-001", mutate: allCold,
			want: []string{"reuse is allowed, not required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := load(t, tt.fixture)
			if tt.mutate != nil {
				tt.mutate(obs)
			}
			r := Evaluate([]Check{checkByID(t, tt.id)}, obs)[0]
			for _, w := range tt.want {
				if !strings.Contains(r.Reason, w) {
					t.Errorf("reason %q does not contain %q", r.Reason, w)
				}
			}
		})
	}
}

func TestLeakEvidenceFields(t *testing.T) {
	r := Evaluate([]Check{checkByID(t, "TI-MEM-001")}, load(t, "recycled.json"))[0]
	if r.Status != reports.Fail || len(r.Evidence) != 1 {
		t.Fatalf("got %s with %d evidence, want FAIL with 1", r.Status, len(r.Evidence))
	}
	want := map[string]string{
		"place": "memory", "where": "var canaries", "nonce": "000000000000000000000000000000c1",
		"plantedRunId": "run-fixed", "plantedTenant": "acme", "plantedContextTenant": "acme",
		"plantedRequestId": "req-1", "plantedEnvId": "env-1", "plantedSeq": "1",
		"foundTenant": "ACME", "foundRequestId": "req-2", "foundEnvId": "env-1", "foundSeq": "2",
	}
	assertFields(t, r.Evidence[0].Fields, want)
	if msg := r.Evidence[0].Message; !strings.Contains(msg, `tenant "ACME" found a memory canary planted by tenant "acme"`) {
		t.Errorf("message %q", msg)
	}
	if r.Remediation == "" || r.Clause != "ENV-02" || r.Level != reports.Must || r.Severity != "critical" {
		t.Errorf("descriptive fields not filled: %+v", r)
	}
}

func TestProcessEvidenceUsesFoundPlace(t *testing.T) {
	r := Evaluate([]Check{checkByID(t, "TI-PROC-001")}, load(t, "recycled.json"))[0]
	if r.Status != reports.Fail || len(r.Evidence) != 1 {
		t.Fatalf("got %s with %d evidence, want FAIL with 1", r.Status, len(r.Evidence))
	}
	assertFields(t, r.Evidence[0].Fields, map[string]string{
		"place": "process", "where": "/proc/301/environ", "plantedTenant": "ACME",
		"plantedContextTenant": "acme", "foundTenant": "acme", "foundEnvId": "env-2", "foundSeq": "3",
	})
}

func TestEnvEvidenceFields(t *testing.T) {
	r := Evaluate([]Check{checkByID(t, "TI-ENV-001")}, load(t, "recycled.json"))[0]
	if r.Status != reports.Fail || len(r.Evidence) != 1 {
		t.Fatalf("got %s with %d evidence, want FAIL with 1", r.Status, len(r.Evidence))
	}
	assertFields(t, r.Evidence[0].Fields, map[string]string{
		"envId": "env-1", "tenants": `"acme","ACME"`,
		"tenant1": "acme", "tenant1RequestId": "req-1", "tenant1Seq": "1",
		"tenant2": "ACME", "tenant2RequestId": "req-2", "tenant2Seq": "2",
	})
	if !strings.Contains(r.Reason, "1 of 2 environments served more than one tenant") {
		t.Errorf("reason %q", r.Reason)
	}
}

func TestContextEvidenceFields(t *testing.T) {
	r := Evaluate([]Check{checkByID(t, "TI-CTX-001")}, load(t, "recycled.json"))[0]
	if r.Status != reports.Fail || len(r.Evidence) != 1 {
		t.Fatalf("got %s with %d evidence, want FAIL with 1", r.Status, len(r.Evidence))
	}
	assertFields(t, r.Evidence[0].Fields, map[string]string{
		"expected": "ACME", "got": "acme", "requestId": "req-2", "envId": "env-1", "seq": "2",
	})
}

func TestCodeDirEvidenceOncePerEnvironment(t *testing.T) {
	r := Evaluate([]Check{checkByID(t, "TI-FS-002")}, load(t, "recycled.json"))[0]
	if r.Status != reports.Warn {
		t.Fatalf("SHOULD violation: status %s, want WARN", r.Status)
	}
	if len(r.Evidence) != 1 {
		t.Fatalf("%d evidence items, want 1 (two reports, one environment)", len(r.Evidence))
	}
	assertFields(t, r.Evidence[0].Fields, map[string]string{
		"envId": "env-1", "tenant": "acme", "requestId": "req-1", "seq": "1",
		"where": "/var/task/tenantcheck-canary",
	})
}

// Tenants are opaque bytes (INV-03): a canary whose tenant differs only by case or by a trailing
// space is another tenant's canary.
func TestTenantsMatchByExactBytes(t *testing.T) {
	for _, planter := range []string{"TENANT-A", "tenant-a ", "tenant+a", "tenant%2Da"} {
		t.Run(planter, func(t *testing.T) {
			obs := load(t, "healthy.json")
			r := obs.Items[2].Report // tenant-a, warm
			r.Found = append(r.Found, probes.Found{
				Canary: probes.Canary{Nonce: "ff", Tenant: planter, Place: probes.PlaceTmp},
				Place:  probes.PlaceTmp, Where: "/tmp/x",
			})
			res := Evaluate([]Check{checkByID(t, "TI-TMP-001")}, obs)[0]
			if res.Status != reports.Fail {
				t.Fatalf("status %s, want FAIL: %s", res.Status, res.Reason)
			}
		})
	}
}

func TestEvidenceIsCapped(t *testing.T) {
	obs := load(t, "healthy.json")
	r := obs.Items[3].Report // tenant-b, warm
	for i := 0; i < 30; i++ {
		r.Found = append(r.Found, probes.Found{
			Canary: probes.Canary{Nonce: fmt.Sprintf("%032x", i), Tenant: "tenant-a", Place: probes.PlaceMemory},
			Place:  probes.PlaceMemory, Where: "var canaries",
		})
	}
	res := Evaluate([]Check{checkByID(t, "TI-MEM-001")}, obs)[0]
	if res.Status != reports.Fail {
		t.Fatalf("status %s, want FAIL", res.Status)
	}
	if len(res.Evidence) != maxEvidence+1 {
		t.Fatalf("%d evidence items, want %d plus the summary line", len(res.Evidence), maxEvidence)
	}
	last := res.Evidence[maxEvidence]
	if last.Message != "... and 10 more (30 findings in total)" || last.Fields["total"] != "30" {
		t.Errorf("summary evidence %+v", last)
	}
	if !strings.HasPrefix(res.Reason, "30 leaks (30 distinct canaries)") {
		t.Errorf("reason %q does not state the total", res.Reason)
	}
}

// A leak in a place the target declared it cannot isolate is expected there, not a violation,
// while the other places of the same check are still judged.
func TestPartiallyMissingPlaces(t *testing.T) {
	obs := load(t, "healthy.json")
	declareMissing(obs, probes.PlaceDevShm)
	r := obs.Items[3].Report
	r.Found = append(r.Found, probes.Found{
		Canary: probes.Canary{Nonce: "aa", Tenant: "tenant-a", Place: probes.PlaceDevShm},
		Place:  probes.PlaceDevShm, Where: "/dev/shm/tenantcheck-canary",
	})
	res := Evaluate([]Check{checkByID(t, "TI-FS-001")}, obs)[0]
	if res.Status != reports.Pass || !strings.Contains(res.Reason, "not judged: dev-shm: no mount namespace") {
		t.Fatalf("got %s %q", res.Status, res.Reason)
	}
	r.Found = append(r.Found, probes.Found{
		Canary: probes.Canary{Nonce: "bb", Tenant: "tenant-a", Place: probes.PlaceHome},
		Place:  probes.PlaceHome, Where: "/home/x",
	})
	if res := Evaluate([]Check{checkByID(t, "TI-FS-001")}, obs)[0]; res.Status != reports.Fail || len(res.Evidence) != 1 {
		t.Fatalf("home leak: got %s with %d evidence", res.Status, len(res.Evidence))
	}
}

func TestEvaluateGuards(t *testing.T) {
	obs := load(t, "healthy.json")
	boom := Check{ID: "X-1", Area: "x", Level: reports.Must, Evaluate: func(*runner.Observations) reports.CheckResult {
		panic("index out of range")
	}}
	should := Check{ID: "X-2", Area: "x", Level: reports.Should, Evaluate: func(*runner.Observations) reports.CheckResult {
		return reports.CheckResult{Status: reports.Fail, Reason: "violated"}
	}}
	must := should
	must.ID, must.Level = "X-3", reports.Must
	got := Evaluate([]Check{boom, should, must, {ID: "X-4"}}, obs)
	wantStatus := []reports.Status{reports.Error, reports.Warn, reports.Fail, reports.Error}
	for i, r := range got {
		if r.Status != wantStatus[i] {
			t.Errorf("%s: %s, want %s (%s)", r.ID, r.Status, wantStatus[i], r.Reason)
		}
	}
	if !strings.Contains(got[0].Reason, "index out of range") {
		t.Errorf("panic reason %q", got[0].Reason)
	}
	for _, r := range Evaluate(All(), nil) {
		if r.Status != reports.Error {
			t.Errorf("nil observations: %s is %s", r.ID, r.Status)
		}
	}
}

func TestPower(t *testing.T) {
	obs := load(t, "healthy.json")
	obs.Opportunities = 600
	p := Power(obs)
	if p.Invocations != 4 || p.WarmReuses != 2 || p.Opportunities != 600 {
		t.Fatalf("power %+v", p)
	}
	if p.DetectP1pct < 0.997 || p.DetectP1pct > 0.998 || p.DetectP01pct < 0.45 || p.DetectP01pct > 0.452 {
		t.Errorf("detect probabilities %v, %v", p.DetectP1pct, p.DetectP01pct)
	}
}

func assertFields(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q", k, got[k], v)
		}
	}
}
