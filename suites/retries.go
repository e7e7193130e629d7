package suites

import (
	"fmt"
	"maps"
	"sort"
	"strconv"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// retryCheck is in the contract area, but judges the isolation schedules' observations (the
// errors schedule's failing Event invocations and their retries), not the contract phase's.
func retryCheck() Check {
	return Check{ID: "TI-API-013", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-13"}, Severity: "critical",
		Title:       "Retries of a failed Event invocation run in the invoking tenant's environments only",
		Remediation: "Route every retry of an Event invocation by its tenant, exactly as the first attempt: never queue retries per function and hand them to whichever environment is free.",
		Evaluate:    evaluateAsyncRetries}
}

// evaluateAsyncRetries (INV-13) judges every retry the runner collected: the retry's handler was
// told the invoking tenant, and its environment served no other tenant anywhere in the run (the
// first reports of every invocation and every retry's report count).
func evaluateAsyncRetries(obs *runner.Observations) reports.CheckResult {
	info := obs.Target.AsyncRetries
	switch {
	case info == nil:
		return reports.CheckResult{Status: reports.Skip,
			Reason: "the run made no failing Event invocation whose report arrived (the errors schedule did not run, or Event invocations could not report)"}
	case info.NotCollected != "":
		return reports.CheckResult{Status: reports.Skip, Reason: "retries not collected: " + info.NotCollected}
	}
	served := map[string]map[string]bool{} // environment -> tenants
	serve := func(env, tenant string) {
		if served[env] == nil {
			served[env] = map[string]bool{}
		}
		served[env][tenant] = true
	}
	retried := 0
	for _, it := range obs.Items {
		if it.Report != nil {
			serve(it.Report.EnvID, it.Tenant)
		}
		for _, r := range it.AsyncRetries {
			serve(r.EnvID, it.Tenant)
		}
		if len(it.AsyncRetries) > 0 {
			retried++
		}
	}
	if info.Received == 0 {
		why := "the target may not retry, or retries later than the wait: raise --async-retry-wait"
		if info.ReadError != "" {
			why = "reading the reports failed: " + info.ReadError
		}
		return reports.CheckResult{Status: reports.Inconclusive,
			Reason: fmt.Sprintf("no retry of %s arrived within %s (%s)",
				plural(info.Failed, "failed Event invocation", "failed Event invocations"), info.Waited.Round(1e6), why)}
	}
	var v verifier
	envs := map[string]bool{}
	for _, it := range obs.Items {
		for i, r := range it.AsyncRetries {
			envs[r.EnvID] = true
			fields := map[string]string{"tenant": it.Tenant, "requestId": r.RequestID, "seq": strconv.FormatInt(it.Seq, 10),
				"attempt": strconv.Itoa(i + 2), "envId": r.EnvID}
			v.expect(r.ContextTenant, gomega.Equal(it.Tenant), &finding{
				msg:    fmt.Sprintf("retry %d of the Event invocation of tenant %q was told tenant %q", i+1, it.Tenant, r.ContextTenant),
				fields: withField(maps.Clone(fields), "got", r.ContextTenant)})
			others := otherTenants(served[r.EnvID], it.Tenant)
			v.expect(others, gomega.BeEmpty(), withCollisions(&finding{
				msg: fmt.Sprintf("retry %d of the Event invocation of tenant %q ran in environment %s, which also served %s",
					i+1, it.Tenant, r.EnvID, quoteSome(others, 3)),
				fields: withField(maps.Clone(fields), "otherTenants", quoteAll(others))}, append([]string{it.Tenant}, others...)))
		}
	}
	res := reports.CheckResult{Status: reports.Pass, Evidence: v.evidence()}
	summary := fmt.Sprintf("%d of %d expected retries of %s arrived (the runner waited %s after the errors schedule), %d of them retried, in %s",
		info.Received, info.Failed*info.Expected, plural(info.Failed, "failed Event invocation", "failed Event invocations"),
		info.Waited.Round(1e6), retried, plural(len(envs), "environment", "environments"))
	if n := v.count(); n > 0 {
		res.Status = reports.Fail
		res.Reason = fmt.Sprintf("%s across tenants: %s", plural(n, "violation", "violations"), summary)
		return res
	}
	tenants := map[string]bool{}
	for _, it := range obs.Items {
		if len(it.AsyncRetries) > 0 {
			tenants[it.Tenant] = true
		}
	}
	if len(tenants) < 2 {
		return reports.CheckResult{Status: reports.Inconclusive,
			Reason: fmt.Sprintf("retries of only one tenant arrived (%d of %d expected): a target that ran every tenant's retries in one environment would look the same",
				info.Received, info.Failed*info.Expected)}
	}
	res.Reason = summary + ", each the invoking tenant's own"
	return res
}

// otherTenants lists the tenants of set other than tenant, sorted.
func otherTenants(set map[string]bool, tenant string) []string {
	var out []string
	for t := range set {
		if t != tenant {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// quoteSome quotes the first n of ts and counts the rest, for a message; the evidence's fields
// carry the whole list.
func quoteSome(ts []string, n int) string {
	if len(ts) <= n {
		return quoteAll(ts)
	}
	return fmt.Sprintf("%s and %d more", quoteAll(ts[:n]), len(ts)-n)
}
