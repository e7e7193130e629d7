package suites

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// owners maps every environment of the PER_TENANT functions seen anywhere in the contract phase
// to the tenants it served. Routing checks look a call's environment up here, so a fault that
// hands one front door's call an environment another part of the phase used is still caught,
// and blamed on the call that was misrouted. The ordinary function's environments are left out:
// they legitimately serve every caller.
type owners struct {
	tenants map[string][]string
}

func phaseOwners(co *runner.ContractObservations) *owners {
	o := &owners{tenants: map[string][]string{}}
	lists := [][]runner.ContractCall{co.MissingTenant, co.TenantLength, co.TenantChars, co.NewTenants,
		co.Async, co.ColdStarts, co.CapCalls, co.Routing}
	for _, list := range lists {
		for _, c := range list {
			if c.Report == nil || c.Report.EnvID == "" || !c.HasTenant || c.Function == co.Ordinary {
				continue
			}
			id := c.Report.EnvID
			if !contains(o.tenants[id], c.Tenant) {
				o.tenants[id] = append(o.tenants[id], c.Tenant)
			}
		}
	}
	return o
}

// others lists the tenants other than c's that c's environment served.
func (o *owners) others(c runner.ContractCall) []string {
	if c.Report == nil {
		return nil
	}
	var out []string
	for _, t := range o.tenants[c.Report.EnvID] {
		if t != c.Tenant {
			out = append(out, strconv.Quote(t))
		}
	}
	return out
}

// routed judges a call that must run in an environment of its own tenant: it is answered, it
// carries a report, the handler saw its own tenant, and its environment served nobody else.
func routed(t *tally, o *owners, c runner.ContractCall, what string) {
	switch {
	case pushback(c):
		t.unjudge(c)
		return
	case c.StatusCode >= 400:
		t.judged++
		t.fail(c, "%s for tenant %q refused: %s", what, c.Tenant, callOutcome(c))
		return
	case c.Report == nil:
		t.unjudge(c)
		return
	}
	t.judged++
	if c.Report.ContextTenant != c.Tenant {
		t.fail(c, "%s for tenant %q: the handler saw tenant %q", what, c.Tenant, c.Report.ContextTenant)
	}
	if others := o.others(c); len(others) > 0 {
		t.fail(c, "%s for tenant %q ran in environment %s, which also served %s", what, c.Tenant, c.Report.EnvID, strings.Join(others, ", "))
	}
}

// evaluateNewTenants (INV-04): every never-seen tenant's first invocation is served.
func evaluateNewTenants(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	for _, c := range co.NewTenants {
		if pushback(c) {
			t.unjudge(c)
			continue
		}
		t.judged++
		if c.StatusCode < 200 || c.StatusCode >= 300 || c.Report == nil {
			t.fail(c, "first invocation of never-seen tenant %q answered %s", c.Tenant, callOutcome(c))
		}
	}
	return t.result(fmt.Sprintf("%s served on their first invocation", plural(t.judged, "never-seen tenant", "never-seen tenants")))
}

// evaluateAsync (INV-11): Event invocations are accepted with 202 and run in their own tenant's
// environments, never in one a synchronous or Event call of another tenant used.
func evaluateAsync(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	if why, ok := co.Skipped[runner.ContractPartAsync]; ok {
		return reports.CheckResult{Status: reports.Skip, Reason: why}
	}
	var t tally
	o := phaseOwners(co)
	envs := map[string]bool{}
	for _, c := range co.Async {
		if !c.Async {
			continue // synchronous calls only establish which environment is whose
		}
		if c.StatusCode != http.StatusAccepted && !pushback(c) && c.StatusCode < 400 {
			t.fail(c, "Event invocation for tenant %q answered %d, want 202", c.Tenant, c.StatusCode)
		}
		routed(&t, o, c, "Event invocation")
		if c.Report != nil {
			envs[c.Report.EnvID] = true
		}
	}
	if t.judged == 0 && len(t.unjudged) == 0 {
		return reports.CheckResult{Status: reports.Skip, Reason: "no Event invocation was made"}
	}
	return t.result(fmt.Sprintf("%s ran in their own tenant's environments (%s)",
		plural(t.judged, "Event invocation", "Event invocations"), plural(len(envs), "environment", "environments")))
}

// evaluateColdStarts (ENV-08): with warmed-up tenants' environments idle, each new tenant's
// first invocation is cold and in an environment nobody used before.
func evaluateColdStarts(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	o := phaseOwners(co)
	seen := map[string]bool{}
	reused := false
	for _, c := range co.ColdStarts {
		if c.Case != "new" {
			if c.Report != nil {
				reused = reused || !c.Report.Cold
				seen[c.Report.EnvID] = true
			}
			continue
		}
		switch {
		case pushback(c), c.Report == nil && c.StatusCode < 400:
			t.unjudge(c)
			continue
		case c.StatusCode >= 400:
			t.judged++
			t.fail(c, "first invocation of new tenant %q refused: %s", c.Tenant, callOutcome(c))
			continue
		}
		t.judged++
		switch others := o.others(c); {
		case len(others) > 0:
			t.fail(c, "new tenant %q got environment %s, which also served %s", c.Tenant, c.Report.EnvID, strings.Join(others, ", "))
		case !c.Report.Cold || seen[c.Report.EnvID]:
			t.fail(c, "first invocation of new tenant %q was not a cold start (environment %s, invocation %d there)",
				c.Tenant, c.Report.EnvID, c.Report.Invocations)
		}
		seen[c.Report.EnvID] = true
	}
	res := t.result(fmt.Sprintf("%s cold on their first invocation", plural(t.judged, "new tenant was", "new tenants were")))
	if res.Status == reports.Pass && !reused {
		return reports.CheckResult{Status: reports.Inconclusive, Reason: "no warm-up tenant's environment was reused, so " +
			"there may have been no idle environment of another tenant to hand over; " + res.Reason}
	}
	return res
}

// evaluateCap (INV-12): at the cap, extra tenants are answered 429 TooManyRequestsException and
// no environment ever serves two tenants.
func evaluateCap(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	if why, ok := co.Skipped[runner.ContractPartCap]; ok {
		return reports.CheckResult{Status: reports.Skip, Reason: why}
	}
	if co.Cap <= 0 || len(co.CapCalls) == 0 {
		return reports.CheckResult{Status: reports.Skip, Reason: "the cap probe made no call"}
	}
	var t tally
	o := phaseOwners(co)
	envs := map[string]bool{}
	throttled, served := 0, 0
	for _, c := range co.CapCalls {
		switch {
		case c.StatusCode == http.StatusTooManyRequests:
			t.judged++
			throttled++
			if c.ErrorCode != codeTooManyReqs {
				t.fail(c, "throttled tenant %q with 429 %s, want %s", c.Tenant, c.ErrorCode, codeTooManyReqs)
			}
		case c.StatusCode >= 400 && c.StatusCode < 600:
			t.judged++
			t.fail(c, "at the cap tenant %q was answered %s, want 429 %s", c.Tenant, callOutcome(c), codeTooManyReqs)
		case c.Report == nil:
			t.unjudge(c)
		default:
			t.judged++
			served++
			envs[c.Report.EnvID] = true
			if others := o.others(c); len(others) > 0 {
				t.fail(c, "at the cap tenant %q was served by environment %s, which also served %s", c.Tenant, c.Report.EnvID, strings.Join(others, ", "))
			}
		}
	}
	figures := fmt.Sprintf("%d held invocations of new tenants against a cap of %d: %d throttled, %d served in %s",
		len(co.CapCalls), co.Cap, throttled, served, plural(len(envs), "environment", "environments"))
	if t.v.count() == 0 && throttled == 0 {
		return reports.CheckResult{Status: reports.Skip, Reason: withNotes("cap not reached in a bounded run: "+figures+
			" (the target's cap may be higher than the one given, or the probe did not hold its environment)", t.allNotes())}
	}
	return t.result(figures)
}

// caseSnapStartControl is the runner's SnapStart request to the ordinary function
// (runner.ContractCall.Case), made when the PER_TENANT function's was refused.
const caseSnapStartControl = "snapstart-control"

// evaluateUnsupported (CP-05, SHOULD): function URLs, provisioned concurrency and SnapStart
// are refused; a feature the target does not implement at all is skipped, not failed.
func evaluateUnsupported(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	var refused, skipped []string
	var control *runner.ContractCall
	for i := range co.Unsupported {
		if co.Unsupported[i].Case == caseSnapStartControl {
			control = &co.Unsupported[i]
		}
	}
	for _, c := range co.Unsupported {
		if c.Case == caseSnapStartControl {
			continue // evidence about the runtime, not a feature asked of the PER_TENANT function
		}
		snapIgnored := c.Case == "snapstart" && c.OK() && (c.SnapStart == "" || c.SnapStart == "None")
		// The same refusal, word for word, for the ordinary function: the runtime has no
		// SnapStart at all (provided.al2023 on AWS), so the refusal is not tenancy's.
		// Throttling or a 5xx is no refusal of either: those stay unjudged, below.
		snapRuntime := c.Case == "snapstart" && c.StatusCode >= 400 && !pushback(c) && control != nil &&
			control.StatusCode >= 400 && !pushback(*control) && control.ErrorCode == c.ErrorCode && control.Message == c.Message
		switch {
		case notImplementedCall(c) || snapIgnored:
			skipped = append(skipped, c.Case+" not implemented by the target")
		case c.StatusCode == 0 && strings.HasPrefix(c.Err, "not attempted"):
			skipped = append(skipped, c.Case+" "+c.Err)
		case pushback(c):
			t.unjudge(c)
		case snapRuntime:
			skipped = append(skipped, fmt.Sprintf("snapstart refused for the ordinary function in the same words (%s), so the runtime does not offer it and the refusal says nothing about tenancy", callOutcome(c)))
		case c.StatusCode >= 400:
			t.judged++
			refused = append(refused, c.Case+" ("+callOutcome(c)+")")
			if c.Case == "function-url" && !strings.Contains(c.Message, functionURLRefuse) {
				t.fail(c, "function URL refused with message %q; CP-05 quotes %q", c.Message, functionURLRefuse)
			}
		default:
			t.judged++
			t.fail(c, "%s (%s) granted on the PER_TENANT function %s: %s", c.Case, c.Op, c.Function, callOutcome(c))
		}
	}
	t.notes = append(t.notes, skipped...)
	if t.judged == 0 && len(t.unjudged) == 0 {
		return reports.CheckResult{Status: reports.Skip, Reason: withNotes("no feature could be tried", skipped)}
	}
	return t.result("refused: " + strings.Join(refused, ", "))
}

// evaluateRouting (INV-01, INV-11): streamed invocations and invocations of a published
// version run in their own tenant's environments.
func evaluateRouting(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	o := phaseOwners(co)
	envs := map[string]bool{}
	counts := map[string]int{}
	for _, c := range co.Routing {
		if c.Case == "stream" && co.Skipped[runner.ContractPartStream] != "" {
			continue
		}
		counts[c.Case]++
		what := "invocation of version " + c.Qualifier
		if c.Stream {
			what = "streamed invocation"
		}
		routed(&t, o, c, what)
		if c.Report != nil {
			envs[c.Report.EnvID] = true
		}
	}
	for _, part := range []string{runner.ContractPartStream, runner.ContractPartVersion} {
		if why, ok := co.Skipped[part]; ok {
			t.notes = append(t.notes, part+" not judged: "+why)
		}
	}
	if t.judged == 0 && len(t.unjudged) == 0 {
		return reports.CheckResult{Status: reports.Skip, Reason: withNotes("no streamed or versioned invocation was made", t.notes)}
	}
	var parts []string
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+" "+strconv.Itoa(counts[k]))
	}
	return t.result(fmt.Sprintf("every invocation (%s) ran in its own tenant's environment (%s)",
		strings.Join(parts, ", "), plural(len(envs), "environment", "environments")))
}
