package runner_test

import (
	"testing"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// contractResults judges a contract phase with the suite's contract checks, by ID. TI-API-013
// is in the contract area but judges the isolation schedules' retries, which a contract phase
// alone does not make.
func contractResults(t *testing.T, co *runner.ContractObservations) map[string]reports.CheckResult {
	t.Helper()
	checks, err := suites.Select(suites.All(), []string{suites.AreaContract}, []string{"TI-API-013"})
	if err != nil {
		t.Fatalf("select contract checks: %v", err)
	}
	out := map[string]reports.CheckResult{}
	for _, r := range suites.Evaluate(checks, &runner.Observations{Contract: co}) {
		out[r.ID] = r
	}
	return out
}

// TestContractBuiltinPasses: the built-in target implements every line of the contract.
func TestContractBuiltinPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of environments")
	}
	for id, r := range contractResults(t, runContract(t)) {
		if r.Status != reports.Pass {
			t.Errorf("%s: %s (%s) %v", id, r.Status, r.Reason, r.Evidence)
		}
	}
}

// TestContractFaultsAreCaught: each fault fails the checks of the clauses it breaks, and only
// those, against the real built-in target.
func TestContractFaultsAreCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of environments per fault")
	}
	// One fault per part of the target the contract phase reaches (front door, control plane,
	// pool): this proves the phase and the suite judge in-process as the CLI does. Every contract
	// fault is run end to end, with the whole suite, by cmd/tenantcheck's TestFaultMatrix; running
	// them all here too doubled that cost in CI for no added proof.
	tests := []struct {
		fault string
		want  map[string]reports.Status
	}{
		{"no-validation", map[string]reports.Status{"TI-API-003": reports.Fail, "TI-API-004": reports.Fail, "TI-API-005": reports.Fail, "TI-API-006": reports.Fail}},
		{"mutable-mode", map[string]reports.Status{"TI-API-002": reports.Fail}},
		// Handing a new tenant someone else's idle environment breaks every first invocation,
		// so every routing check that starts new tenants catches it.
		{"warm-handoff", map[string]reports.Status{"TI-API-008": reports.Fail, "TI-API-009": reports.Fail,
			"TI-API-010": reports.Fail, "TI-API-012": reports.Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			got := contractResults(t, runContract(t, tt.fault))
			for id, r := range got {
				want, broken := tt.want[id]
				if !broken {
					want = reports.Pass
				}
				if r.Status != want {
					t.Errorf("%s: %s (%s), want %s", id, r.Status, r.Reason, want)
				}
			}
		})
	}
}
