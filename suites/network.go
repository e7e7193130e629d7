package suites

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

func networkChecks() []Check {
	return []Check{
		{
			ID: "TI-NET-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-11"}, Severity: "critical",
			Title: "No network endpoint carries state across a tenant line",
			Remediation: "Give every execution environment a network of its own (its own VM or network " +
				"namespace): a socket one tenant's function leaves listening must be unreachable from " +
				"every other tenant's environment, loopback and abstract unix sockets included.",
			Places:   []probes.Place{probes.PlaceNetwork},
			Evaluate: evaluateInboxes,
		},
		{
			ID: "TI-NET-002", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"ENV-12"}, Severity: "critical",
			Title: "A function cannot use the target's own API to reach another tenant",
			Remediation: "Keep functions off the platform's own API, or give their credentials no right to " +
				"invoke a PER_TENANT function or to read its logs: a function that can invoke itself as " +
				"another tenant, or read the log group every tenant writes to, crosses the tenant line " +
				"without the platform's say.",
			Places:   []probes.Place{probes.PlaceNetwork},
			Evaluate: evaluateFrontDoor,
		},
	}
}

// evaluateInboxes (ENV-11): every environment keeps an inbox (TCP, UDP, abstract unix) and the
// runner hands probes the inboxes of other tenants' environments to deposit their canary in. A
// canary of another tenant found in an inbox FAILs, like any leak. Otherwise the check PASSes
// when deposits were tried, saying how many arrived anywhere: on a target that keeps networks
// apart, none can.
func evaluateInboxes(obs *runner.Observations) reports.CheckResult {
	leak := leakEvaluator([]probes.Place{probes.PlaceNetwork})(obs)
	if leak.Status != reports.Pass {
		return leak // a leak, no reports, nothing planted, or no warm reuse to find a deposit in
	}
	st := measure(obs)
	tried, delivered := 0, 0
	kinds := map[string]int{}
	var details []string
	for _, inv := range withReports(obs) {
		for _, d := range inv.report.Deposits {
			tried++
			if d.Kind == "udp" {
				continue // a datagram is "sent" whether or not anything listens: it proves nothing
			}
			if d.Delivered {
				delivered++
				kinds[d.Kind]++
			} else if d.Detail != "" && len(details) < 3 {
				details = append(details, d.Kind+" "+d.Addr+": "+d.Detail)
			}
		}
	}
	if tried == 0 {
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("no deposit into another tenant's inbox was tried: the run never saw two environments' inboxes (%s)", st.figures()),
		}
	}
	reason := fmt.Sprintf("%d deposits into other tenants' inboxes, %d stream connections accepted anywhere, none found by another tenant (%s)",
		tried, delivered, st.figures())
	if delivered > 0 {
		reason += "; delivered by kind: " + countList(kinds)
	}
	res := reports.CheckResult{Status: reports.Pass, Reason: reason}
	for _, d := range details {
		res.Evidence = append(res.Evidence, reports.Evidence{Message: "refused: " + d})
	}
	return res
}

// evaluateFrontDoor (ENV-12): every front-door call a probe made from inside a function must
// have been refused. One allowed call FAILs.
func evaluateFrontDoor(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	var v verifier
	tried := 0
	refusals := map[string]int{}
	for _, inv := range withReports(obs) {
		for _, a := range inv.report.FrontDoor {
			tried++
			v.expect(a.Allowed, gomega.BeFalse(), frontDoorFinding(&inv, a))
			if !a.Allowed {
				refusals[firstNonEmptyString(a.ErrorCode, strconv.Itoa(a.HTTPStatus), "unreachable")]++
			}
		}
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d calls on the target's own API from inside a function were allowed (%s)", n, tried, st.figures()),
			Evidence: v.evidence(),
		}
	}
	if res, ok := st.mostlyFailed(); ok {
		return res
	}
	if tried == 0 {
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("no probe tried the target's own API (%s)", st.figures()),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("%d calls on the target's own API from inside a function were all refused (%s; %s)",
			tried, countList(refusals), st.figures()),
	}
}

func frontDoorFinding(o *invocation, a probes.FrontDoorAttempt) *finding {
	what := "invoked its own function as another tenant (DryRun allowed)"
	if a.Op == probes.FrontDoorReadLogs {
		what = "read the function's log group, which holds every tenant's lines"
	}
	return &finding{
		msg: fmt.Sprintf("a function invoked for tenant %q %s through the target's API", o.tenant, what),
		fields: map[string]string{
			"op":          a.Op,
			"tenant":      o.tenant,
			"requestId":   o.report.RequestID,
			"envId":       o.report.EnvID,
			"seq":         strconv.FormatInt(o.seq, 10),
			"httpStatus":  strconv.Itoa(a.HTTPStatus),
			"attemptNote": a.Detail,
		},
	}
}

// countList renders counts as "a 3, b 1", largest first, names breaking ties.
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ", ")
}

func firstNonEmptyString(vals ...string) string {
	for _, v := range vals {
		if v != "" && v != "0" {
			return v
		}
	}
	return ""
}
