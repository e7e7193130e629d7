package suites

import (
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// Coverage states what a run's checks could not reach. The probe reports its kernel's boot ID;
// when two tenants' environments report the same one they share a kernel, and channels through
// that kernel that no check tries remain open as far as this run can tell. The statement is
// derived from the observations alone, so `judge` re-derives it from a record.
func Coverage(obs *runner.Observations) *reports.Coverage {
	if obs == nil {
		return nil
	}
	tenantsOf := map[string]map[string]bool{} // boot ID -> tenants
	tenants := map[string]bool{}
	for _, inv := range withReports(obs) {
		id := inv.report.BootID
		if id == "" {
			continue
		}
		if tenantsOf[id] == nil {
			tenantsOf[id] = map[string]bool{}
		}
		tenantsOf[id][inv.tenant] = true
		tenants[inv.tenant] = true
	}
	c := &reports.Coverage{SharedKernel: "no", Kernels: len(tenantsOf), Tenants: len(tenants)}
	switch {
	case len(tenants) < 2:
		c.SharedKernel = "unknown" // one tenant's environments cannot show a kernel shared across tenants
	default:
		for _, ts := range tenantsOf {
			if len(ts) > 1 {
				c.SharedKernel = "yes"
			}
		}
	}
	c.NotCovered = append(c.NotCovered,
		"CPU time and disk or network bandwidth per environment: not checked, so a noisy neighbour that slows the others is not detected")
	if c.SharedKernel != "no" {
		c.NotCovered = append(c.NotCovered,
			"byte-range (record) locks on files other than the function's own code, such as host files a self-hosted target shows every environment read-only (TI-LOCK-001 tries the code only): not tried",
			"kernel-wide metadata a function may read, such as socket tables in /proc/net of a shared network namespace or load figures: not tried",
			"timing and contention through the shared kernel and CPU caches (covert channels): not tried")
	}
	return c
}
