package suites

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// AreaIsolation groups the checks that judge whether tenants stay apart at run time.
const AreaIsolation = "isolation"

// leakRemediation is shared by the canary checks: whatever the place, the fix is the same.
const leakRemediation = "Never hand an execution environment to another tenant: key the environment " +
	"pool by (function, version, tenant) and destroy, never recycle, environments whose tenant " +
	"differs; reset or tear down after timeouts and crashes."

func isolationChecks() []Check {
	leak := func(id, title, clause string, places ...probes.Place) Check {
		return Check{
			ID: id, Area: AreaIsolation, Title: title, Level: reports.Must, Clauses: []string{clause},
			Severity: "critical", Remediation: leakRemediation, Places: places,
			Evaluate: leakEvaluator(places),
		}
	}
	return []Check{
		{
			ID: "TI-ENV-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-01"}, Severity: "critical",
			Title:       "No execution environment serves two tenants",
			Remediation: leakRemediation,
			Evaluate:    evaluateEnvTenancy,
		},
		leak("TI-MEM-001", "No memory canary crosses a tenant line", "ENV-02", probes.PlaceMemory),
		leak("TI-TMP-001", "No /tmp canary crosses a tenant line", "ENV-03", probes.PlaceTmp),
		leak("TI-FS-001", "No canary in /dev/shm, /var/tmp, $HOME or the code directory crosses a tenant line",
			"ENV-03", probes.PlaceDevShm, probes.PlaceVarTmp, probes.PlaceHome, probes.PlaceCodeDir),
		{
			ID: "TI-FS-002", Area: AreaIsolation, Level: reports.Should, Clauses: []string{"ENV-10"}, Severity: "medium",
			Title: "The code directory is read-only",
			Remediation: "Mount the function code (LAMBDA_TASK_ROOT, /var/task) read-only in every " +
				"execution environment.",
			Places:   []probes.Place{probes.PlaceCodeDir},
			Evaluate: evaluateCodeDirReadOnly,
		},
		leak("TI-VAR-001", "No run-time environment variable crosses a tenant line", "ENV-04", probes.PlaceEnvVar),
		leak("TI-BG-001", "No background work crosses a tenant line", "ENV-05", probes.PlaceBackground),
		leak("TI-CRED-001", "No cached credential crosses a tenant line", "ENV-06", probes.PlaceCredCache),
		leak("TI-PROC-001", "No other process shows another tenant's canaries", "ENV-06", probes.PlaceProcess),
		{
			ID: "TI-CTX-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"RT-02", "RT-01"}, Severity: "high",
			Title: "The handler sees exactly the tenant it was invoked for",
			Remediation: "Pass X-Amz-Tenant-Id through unchanged (no case folding, trimming or " +
				"decoding) as Lambda-Runtime-Aws-Tenant-Id on /next, and only to the invocation it came with.",
			Evaluate: evaluateContextTenant,
		},
		{
			ID: "TI-REUSE-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-07"}, Severity: "info",
			Title: "Warm reuse within a tenant is observed (positive control)",
			Remediation: "Not a violation: reuse is allowed, not required. Without it the leak checks " +
				"have no power; run longer, with fewer tenants, or sequential schedules.",
			Evaluate: evaluateReuse,
		},
	}
}

// maxTenantsPerEnv bounds how many tenants one environment's evidence lists.
const maxTenantsPerEnv = 5

// evaluateEnvTenancy (ENV-01): group reports by environment ID and expect one tenant per group.
// This catches recycling even when no canary survived to show it.
func evaluateEnvTenancy(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	type envSeen struct {
		first   map[string]invocation // tenant -> first invocation of that tenant here
		tenants []string              // in first-seen order
	}
	envs := map[string]*envSeen{}
	var order []string
	for _, inv := range withReports(obs) {
		id := inv.report.EnvID
		e, ok := envs[id]
		if !ok {
			e = &envSeen{first: map[string]invocation{}}
			envs[id] = e
			order = append(order, id)
		}
		if _, seen := e.first[inv.tenant]; !seen {
			e.first[inv.tenant] = inv
			e.tenants = append(e.tenants, inv.tenant)
		}
	}
	var v verifier
	for _, id := range order {
		e := envs[id]
		v.expect(e.tenants, gomega.HaveLen(1), envFinding(id, e.tenants, e.first))
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d environments served more than one tenant (%s)", n, len(order), st.figures()),
			Evidence: v.evidence(),
		}
	}
	if res, ok := st.mostlyFailed(); ok {
		return res
	}
	if st.warm == 0 {
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("no environment was reused, so no chance to leak was created (%s)", st.figures()),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("each of %d environments served one tenant (%s)", len(order), st.figures()),
	}
}

func envFinding(envID string, tenants []string, first map[string]invocation) *finding {
	quoted := make([]string, len(tenants))
	for i, t := range tenants {
		quoted[i] = strconv.Quote(t)
	}
	f := &finding{
		msg: fmt.Sprintf("environment %s served %d tenants: %s", envID, len(tenants), strings.Join(quoted, ", ")),
		fields: map[string]string{
			"envId":   envID,
			"tenants": strings.Join(quoted, ","),
		},
	}
	for i, t := range tenants {
		if i == maxTenantsPerEnv {
			f.fields["tenantsOmitted"] = strconv.Itoa(len(tenants) - i)
			break
		}
		inv := first[t]
		k := "tenant" + strconv.Itoa(i+1)
		f.fields[k] = t
		f.fields[k+"RequestId"] = inv.report.RequestID
		f.fields[k+"Seq"] = strconv.FormatInt(inv.seq, 10)
	}
	return withCollisions(f, tenants)
}

// evaluateContextTenant (RT-02): every report's context tenant must equal the ground truth.
// Reuse is not needed to judge this: every invocation is a chance to get it wrong.
func evaluateContextTenant(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	var v verifier
	for _, inv := range withReports(obs) {
		r := inv.report
		v.expect(r.ContextTenant, gomega.Equal(inv.tenant), &finding{
			msg: fmt.Sprintf("invoked for tenant %q, handler saw %q", inv.tenant, r.ContextTenant),
			fields: map[string]string{
				"expected":  inv.tenant,
				"got":       r.ContextTenant,
				"requestId": r.RequestID,
				"envId":     r.EnvID,
				"seq":       strconv.FormatInt(inv.seq, 10),
			},
		})
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d reports saw the wrong tenant (%s)", n, st.reports, st.figures()),
			Evidence: v.evidence(),
		}
	}
	if res, ok := st.mostlyFailed(); ok {
		return res
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("all %d reports saw their own tenant (%s)", st.reports, st.figures()),
	}
}

// evaluateCodeDirReadOnly (ENV-10, SHOULD): a successful write into the code directory, by the
// probe's explicit test or by a planted canary, means the directory is writable.
func evaluateCodeDirReadOnly(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	var v verifier
	envs := map[string]bool{}     // environments seen
	reported := map[string]bool{} // environments already cited: one finding each is enough
	for _, inv := range withReports(obs) {
		r := inv.report
		envs[r.EnvID] = true
		if reported[r.EnvID] {
			continue
		}
		writable, where := r.CodeDirWritable, ""
		for _, p := range r.Planted {
			if p.Place == probes.PlaceCodeDir && p.Planted {
				writable, where = true, p.Where
			}
		}
		before := v.count()
		v.expect(writable, gomega.BeFalse(), &finding{
			msg: fmt.Sprintf("environment %s could write into the code directory", r.EnvID),
			fields: map[string]string{
				"envId": r.EnvID, "tenant": inv.tenant, "requestId": r.RequestID,
				"seq": strconv.FormatInt(inv.seq, 10), "where": where,
			},
		})
		reported[r.EnvID] = v.count() > before
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("code directory writable in %d of %d environments (%s)", n, len(envs), st.figures()),
			Evidence: v.evidence(),
		}
	}
	if res, ok := st.mostlyFailed(); ok {
		return res
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("code directory read-only in all %d environments (%s)", len(envs), st.figures()),
	}
}

// evaluateReuse (ENV-07) is the positive control: it never FAILs, because reuse is allowed, not
// required; but without it a no-leak result proves nothing, and the report must say so.
func evaluateReuse(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	if res, ok := st.mostlyFailed(); ok {
		return res
	}
	warmEnvs := map[string]bool{}
	for _, inv := range withReports(obs) {
		if !inv.report.Cold {
			warmEnvs[inv.report.EnvID] = true
		}
	}
	if st.warm == 0 {
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("no warm reuse observed: reuse is allowed, not required, but without it "+
				"the leak checks have no power (%s)", st.figures()),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("%d of %d reports were warm, in %d environments (%s)",
			st.warm, st.reports, len(warmEnvs), st.figures()),
	}
}
