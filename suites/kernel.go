package suites

import (
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
)

// kernelChecks judge the kernel objects a function can create beside files and memory: they
// cross a tenant line wherever two environments share a kernel and the target does not give
// each its own namespace of them.
func kernelChecks() []Check {
	return []Check{
		{
			ID: "TI-KEY-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-13"}, Severity: "critical",
			Title: "No kernel key crosses a tenant line",
			Remediation: "Give every execution environment its own kernel (a microVM), or its own user " +
				"namespace and a fresh session keyring, and never hand a uid whose user keyring may " +
				"still hold keys to another tenant's environment.",
			Places:   []probes.Place{probes.PlaceKeys},
			Evaluate: leakEvaluator([]probes.Place{probes.PlaceKeys}),
		},
	}
}
