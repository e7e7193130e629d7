package suites

import (
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// stub is a check whose verdict is fixed, to test what Judge does around evaluation.
func stub(id, area string, status reports.Status) Check {
	return Check{ID: id, Area: area, Level: reports.Must, Evaluate: func(*runner.Observations) reports.CheckResult {
		return reports.CheckResult{Status: status, Reason: "as evaluated"}
	}}
}

func TestJudgeHoldsBackPassOnGaps(t *testing.T) {
	selected := []Check{
		stub("T-PASS", AreaIsolation, reports.Pass),
		stub("T-FAIL", AreaIsolation, reports.Fail),
		stub("T-OTHER", AreaLogs, reports.Pass),
	}
	tests := []struct {
		name string
		gaps []runner.Gap
		want map[string]reports.Status
	}{
		{"finished run", nil, map[string]reports.Status{"T-PASS": reports.Pass, "T-FAIL": reports.Fail, "T-OTHER": reports.Pass}},
		{"isolation cut short", []runner.Gap{{Area: AreaIsolation, Reason: "phase timeout"}},
			map[string]reports.Status{"T-PASS": reports.Inconclusive, "T-FAIL": reports.Fail, "T-OTHER": reports.Pass}},
		{"everything cut short", []runner.Gap{{Reason: "record ends early"}},
			map[string]reports.Status{"T-PASS": reports.Inconclusive, "T-FAIL": reports.Fail, "T-OTHER": reports.Inconclusive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results := Judge(&runner.Observations{Incomplete: tc.gaps}, selected)
			if len(results) != len(All())+len(selected) {
				t.Errorf("%d results, want the %d selected and every known check as deselected", len(results), len(selected))
			}
			for _, r := range results {
				want, ok := tc.want[r.ID]
				if !ok {
					if r.Status != reports.Skip || r.Reason != DeselectedReason {
						t.Errorf("%s: %s %q, want SKIP deselected", r.ID, r.Status, r.Reason)
					}
					continue
				}
				if r.Status != want {
					t.Errorf("%s: %s, want %s", r.ID, r.Status, want)
				}
				if r.Status == reports.Inconclusive && (!strings.Contains(r.Reason, "run incomplete") || !strings.Contains(r.Reason, "as evaluated")) {
					t.Errorf("%s: reason %q should say the run was incomplete and what the check saw", r.ID, r.Reason)
				}
			}
		})
	}
}
