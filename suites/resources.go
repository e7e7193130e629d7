package suites

import (
	"fmt"
	"strconv"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// maxPidsPerEnv is the most processes and threads an environment may be allowed and still count
// as limited: Lambda's own limit is 1,024.
const maxPidsPerEnv = 4096

func resourceChecks() []Check {
	return []Check{
		{
			ID: "TI-RES-003", Area: AreaIsolation, Level: reports.Should, Clauses: []string{"ENV-14"}, Severity: "medium",
			Title: "Processes per environment are limited",
			Remediation: "Give every execution environment a process and thread limit of its own (a pids " +
				"cgroup, 1,024 as on Lambda): without one, a fork bomb in one tenant's function starves " +
				"every other tenant on the host.",
			Places:   []probes.Place{probes.PlacePids},
			Evaluate: evaluatePidsLimit,
		},
	}
}

// evaluatePidsLimit (ENV-14): every environment that could read its pids cgroup must report a
// finite limit of at most maxPidsPerEnv. Environments that could not read it are not judged;
// when none could, the check SKIPs with that reason.
func evaluatePidsLimit(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	var v verifier
	seen := map[string]bool{}
	limits := map[string]int{}
	for _, inv := range withReports(obs) {
		r := inv.report
		if r.PidsMax == "" || seen[r.EnvID] {
			continue
		}
		seen[r.EnvID] = true
		n, err := strconv.Atoi(r.PidsMax)
		limited := err == nil && n > 0 && n <= maxPidsPerEnv
		v.expect(limited, gomega.BeTrue(), &finding{
			msg: fmt.Sprintf("environment %s of tenant %q has a process limit of %s", r.EnvID, inv.tenant, r.PidsMax),
			fields: map[string]string{"envId": r.EnvID, "tenant": inv.tenant, "pidsMax": r.PidsMax,
				"seq": strconv.FormatInt(inv.seq, 10)},
		})
		limits[r.PidsMax]++
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d environments have no process limit of at most %d (%s)", n, len(seen), maxPidsPerEnv, st.figures()),
			Evidence: v.evidence(),
		}
	}
	if len(seen) == 0 {
		return reports.CheckResult{Status: reports.Skip,
			Reason: "no environment could read its process limit (no cgroup file system in view)"}
	}
	return reports.CheckResult{Status: reports.Pass,
		Reason: fmt.Sprintf("%d environments, each with a process limit of its own (pids.max: environments %s; %s)", len(seen), countList(limits), st.figures())}
}
