package suites

import (
	"fmt"
	"strings"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
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
		{
			ID: "TI-LOCK-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-17"}, Severity: "high",
			Title: "No byte-range lock crosses a tenant line",
			Remediation: "Give every execution environment its own copy or its own mount (an overlay) of the " +
				"function's code: the kernel keeps byte-range locks per inode, so environments that open " +
				"one shared copy can signal to each other through the locks they take on it.",
			Places: []probes.Place{probes.PlaceLocks},
			Evaluate: func(obs *runner.Observations) reports.CheckResult {
				resolved, unknown := resolveLockTokens(obs)
				res := leakEvaluator([]probes.Place{probes.PlaceLocks})(resolved)
				if unknown > 0 {
					res.Reason += fmt.Sprintf("; %d lock(s) of another environment seen whose planter no report of this run names (not counted: its report may have been lost; the code's inode is shared with some environment)", unknown)
				}
				return res
			},
		},
	}
}

// resolveLockTokens returns obs with every lock a probe found filled in from the plant that made
// it, and how many found locks no plant of the run accounts for (those are left out). A lock
// carries only a token (the first probes.LockTokenLen hex digits of its canary's nonce); the plant
// records of the run say which invocation took it. An unaccounted lock is not counted as a leak:
// its planter's report may have been lost (an async report that never arrived), and then the
// planter may well be the finder's own tenant. obs is not modified.
func resolveLockTokens(obs *runner.Observations) (*runner.Observations, int) {
	planted := map[string]probes.Canary{}
	for _, inv := range withReports(obs) {
		r := inv.report
		for _, p := range r.Planted {
			if p.Place != probes.PlaceLocks || !p.Planted || len(p.Nonce) < probes.LockTokenLen {
				continue
			}
			planted[strings.ToLower(p.Nonce[:probes.LockTokenLen])] = probes.Canary{
				Nonce: p.Nonce, RunID: r.RunID, Tenant: inv.tenant, ContextTenant: r.ContextTenant,
				EnvID: r.EnvID, RequestID: r.RequestID, Seq: inv.seq, Place: probes.PlaceLocks,
			}
		}
	}
	unknown := 0
	out := *obs
	out.Items = make([]runner.Observation, len(obs.Items))
	for i, o := range obs.Items {
		out.Items[i] = o
		if o.Report == nil || !hasLockFinding(o.Report) {
			continue
		}
		rep := *o.Report
		rep.Found = make([]probes.Found, 0, len(o.Report.Found))
		for _, f := range o.Report.Found {
			if foundPlace(f) == probes.PlaceLocks && f.Canary.Tenant == "" {
				c, ok := planted[strings.ToLower(f.Canary.Nonce)]
				if !ok {
					unknown++
					continue
				}
				f.Canary = c
			}
			rep.Found = append(rep.Found, f)
		}
		out.Items[i].Report = &rep
	}
	return &out, unknown
}

func hasLockFinding(r *probes.Report) bool {
	for _, f := range r.Found {
		if foundPlace(f) == probes.PlaceLocks {
			return true
		}
	}
	return false
}
