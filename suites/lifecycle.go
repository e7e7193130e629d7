package suites

import (
	"fmt"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// AreaLifecycle holds the checks of the lifecycle phase (runner.RunLifecycle): events in a
// function's life, on a function the phase creates for itself.
const AreaLifecycle = "lifecycle"

func lifecycleChecks() []Check {
	return []Check{
		{ID: "TI-LIFE-001", Area: AreaLifecycle, Level: reports.Must, Clauses: []string{"LIFE-01"}, Severity: "critical",
			Title:       "An update of the function never hands an environment to another tenant",
			Remediation: "On UpdateFunctionCode or UpdateFunctionConfiguration, retire the function's environments (let busy ones finish, then destroy them); start new ones per tenant, never re-key an old one.",
			Evaluate:    lifecycleEvaluator(runner.LifecycleUpdate, "update", evaluateUpdateControl)},
		{ID: "TI-LIFE-002", Area: AreaLifecycle, Level: reports.Must, Clauses: []string{"LIFE-02"}, Severity: "critical",
			Title:       "A burst of one tenant never borrows another tenant's idle environment",
			Remediation: "When every environment of a tenant is busy, start another one for that tenant (or throttle); never lend it an idle environment of another tenant.",
			Evaluate:    lifecycleEvaluator(runner.LifecycleBurst, "burst", evaluateBurstControl)},
		{ID: "TI-LIFE-003", Area: AreaLifecycle, Level: reports.Must, Clauses: []string{"LIFE-03"}, Severity: "critical",
			Title:       "At the environment cap an evicted environment is destroyed, not handed to the next tenant",
			Remediation: "Evict the least recently used idle environment by destroying it, and start the new tenant's environment fresh.",
			Evaluate:    lifecycleEvaluator(runner.LifecycleCap, "cap", evaluateCapControl)},
		{ID: "TI-LIFE-004", Area: AreaLifecycle, Level: reports.Must, Clauses: []string{"LIFE-04"}, Severity: "critical",
			Title:       "An environment idle past the idle timeout is destroyed, never handed to another tenant",
			Remediation: "Destroy an environment when it has idled past the idle timeout; never park it for the next cold start, whatever its tenant.",
			Evaluate:    lifecycleEvaluator(runner.LifecycleQuiet, "quiet", evaluateQuietControl)},
	}
}

// lifecycleEvaluator judges one event: every invocation of it was answered in an environment that
// served no other tenant anywhere in the phase, and the handler saw its own tenant. control then
// says whether the event happened as planned; a PASS without it is INCONCLUSIVE.
func lifecycleEvaluator(event, what string, control func(lo *runner.LifecycleObservations, calls []runner.ContractCall) (ok bool, summary string)) func(*runner.Observations) reports.CheckResult {
	return func(obs *runner.Observations) reports.CheckResult {
		lo := obs.Lifecycle
		switch {
		case lo == nil:
			return reports.CheckResult{Status: reports.Skip, Reason: "lifecycle phase not run"}
		case lo.NotRun != "":
			return reports.CheckResult{Status: reports.Skip, Reason: "lifecycle phase not run: " + lo.NotRun}
		case lo.Skipped[event] != "":
			return reports.CheckResult{Status: reports.Skip, Reason: what + " event not run: " + lo.Skipped[event]}
		}
		o := lifecycleOwners(lo)
		calls := lo.Events[event]
		t := &tally{}
		for _, c := range calls {
			if c.Op == "Invoke" {
				routed(t, o, c, fmt.Sprintf("invocation %q of the %s event", c.Case, what))
			}
		}
		ok, summary := control(lo, calls)
		res := t.result(summary)
		if res.Status == reports.Pass && !ok {
			res.Status = reports.Inconclusive
		}
		return res
	}
}

// lifecycleOwners maps every environment of the lifecycle phase to the tenants it served.
func lifecycleOwners(lo *runner.LifecycleObservations) *owners {
	o := &owners{tenants: map[string][]string{}}
	for _, calls := range lo.Events {
		for _, c := range calls {
			if c.Report == nil || c.Report.EnvID == "" || !c.HasTenant {
				continue
			}
			if id := c.Report.EnvID; !contains(o.tenants[id], c.Tenant) {
				o.tenants[id] = append(o.tenants[id], c.Tenant)
			}
		}
	}
	return o
}

// envsOf maps each tenant of the calls of the given cases to the environments that served it.
func envsOf(calls []runner.ContractCall, cases ...string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, c := range calls {
		if !contains(cases, c.Case) || c.Report == nil || c.Report.EnvID == "" {
			continue
		}
		if out[c.Tenant] == nil {
			out[c.Tenant] = map[string]bool{}
		}
		out[c.Tenant][c.Report.EnvID] = true
	}
	return out
}

// evaluateUpdateControl: at least one update went through and two tenants were served after
// it. It also counts environments that served a call finished before an update and another
// begun after it: not a leak, but Lambda starts fresh environments after an update, so the
// reader is told.
func evaluateUpdateControl(_ *runner.LifecycleObservations, calls []runner.ContractCall) (bool, string) {
	var updates []runner.ContractCall
	refused := ""
	for _, c := range calls {
		switch {
		case c.Case != "update":
		case c.OK():
			updates = append(updates, c)
		case refused == "":
			refused = fmt.Sprintf("%s: %s", c.Op, callOutcome(c))
		}
	}
	if len(updates) == 0 {
		return false, "no update of the function went through (" + refused + "), so no environment could outlive one"
	}
	if len(envsOf(calls, "before", "during")) < 2 {
		return false, fmt.Sprintf("%d updates went through, but fewer than two tenants had an environment before them", len(updates))
	}
	after := envsOf(calls, "after")
	if len(after) < 2 {
		return false, fmt.Sprintf("%d updates went through, but fewer than two tenants were served after them", len(updates))
	}
	kept := map[string]bool{}
	for _, u := range updates {
		landed := u.Start.Add(u.Duration)
		old := map[string]bool{}
		for _, c := range calls {
			if c.Op == "Invoke" && c.Report != nil && !c.Start.Add(c.Duration).After(u.Start) {
				old[c.Report.EnvID] = true
			}
		}
		for _, c := range calls {
			if c.Case == "after" && c.Report != nil && c.Start.After(landed) && old[c.Report.EnvID] {
				kept[c.Report.EnvID] = true
			}
		}
	}
	summary := fmt.Sprintf("%d updates of the function mid-traffic; %d tenants served after them, none in another tenant's environment", len(updates), len(after))
	if len(kept) > 0 {
		summary += fmt.Sprintf(" (%s kept serving its tenant across an update, where Lambda starts fresh ones)", plural(len(kept), "environment", "environments"))
	}
	return true, summary
}

// evaluateBurstControl: the burst ran in more than one environment at once, so the target had
// to find the bursting tenant environments beyond the one it had.
func evaluateBurstControl(_ *runner.LifecycleObservations, calls []runner.ContractCall) (bool, string) {
	if len(envsOf(calls, "idle")) < 2 {
		return false, "fewer than two tenants left an idle environment before the burst, so there was little to borrow"
	}
	envs := 0
	for _, e := range envsOf(calls, "burst") {
		envs = max(envs, len(e))
	}
	if envs < 2 {
		return false, "the burst was served in fewer than two environments, so the target never had to find more for the tenant"
	}
	return true, fmt.Sprintf("a burst of one tenant ran in %d environments beside idle environments of two others, none of them borrowed", envs)
}

// evaluateCapControl: a tenant that returned after the cap was passed found its environment
// evicted (it ran in another one), so eviction happened.
func evaluateCapControl(lo *runner.LifecycleObservations, calls []runner.ContractCall) (bool, string) {
	fill, back := envsOf(calls, "fill"), envsOf(calls, "return")
	evicted := 0
	for tenant, envs := range back {
		if len(fill[tenant]) == 0 {
			continue // its fill call has no report: nothing to compare with
		}
		for env := range envs {
			if !fill[tenant][env] {
				evicted++
			}
		}
	}
	if evicted == 0 {
		return false, "no returning tenant found its environment evicted, so the target never evicted one at the cap"
	}
	return true, fmt.Sprintf("%d tenants filled a cap of %d environments; returning, %d of them ran in a fresh environment (theirs had been evicted), none in another tenant's",
		len(fill), lo.Cap, evicted)
}

// evaluateQuietControl: a tenant that returned after the quiet period ran in a fresh environment
// (its own had been destroyed), so the idle timeout did act.
func evaluateQuietControl(lo *runner.LifecycleObservations, calls []runner.ContractCall) (bool, string) {
	before, after := envsOf(calls, "before"), envsOf(calls, "after")
	fresh := 0
	for tenant, envs := range after {
		if len(before[tenant]) == 0 {
			continue // the new tenant
		}
		for env := range envs {
			if !before[tenant][env] {
				fresh++
			}
		}
	}
	if fresh == 0 {
		return false, fmt.Sprintf("after %s of quiet no returning tenant ran in a fresh environment, so the target evicted none", lo.Quiet)
	}
	return true, fmt.Sprintf("after %s of quiet (past an idle timeout of %s) %d returning tenants ran in fresh environments and a new tenant in its own", lo.Quiet, lo.IdleTimeout, fresh)
}
