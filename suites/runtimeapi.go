package suites

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

func runtimeAPIChecks() []Check {
	return []Check{{
		ID: "TI-RAPI-001", Area: AreaIsolation, Level: reports.Must, Clauses: []string{"RT-05"}, Severity: "critical",
		Title: "An environment cannot reach another environment's Runtime API",
		Remediation: "Serve each execution environment's Runtime API to that environment only: give it its " +
			"own VM or network namespace, or authenticate every connection (for instance by the uid " +
			"owning the client socket) and drop strangers before reading a byte.",
		// A target that cannot authenticate Runtime API connections (the built-in one without
		// distinct uids) declares this place missing: the check SKIPs with its reason instead of
		// failing a known, declared gap.
		Places:   []probes.Place{probes.PlaceRuntimeAPI},
		Evaluate: evaluateRuntimeAPIPeers,
	}}
}

// peerOwner is what the run's reports say about a Runtime API address: which tenants'
// environments gave it as their own.
type peerOwner struct {
	tenants []string
	envs    []string
}

// evaluateRuntimeAPIPeers (RT-05): every knock on another environment's Runtime API must be
// refused, reset or closed before a response byte. An answer means one tenant's function could
// talk to another environment's Runtime API, and so take that tenant's invocations.
func evaluateRuntimeAPIPeers(obs *runner.Observations) reports.CheckResult {
	st := measure(obs)
	if res, ok := st.noReports(); ok {
		return res
	}
	owners := map[string]*peerOwner{}
	for _, inv := range withReports(obs) {
		r := inv.report
		if r.RuntimeAPI == "" {
			continue
		}
		o := owners[r.RuntimeAPI]
		if o == nil {
			o = &peerOwner{}
			owners[r.RuntimeAPI] = o
		}
		if !slices.Contains(o.tenants, inv.tenant) {
			o.tenants = append(o.tenants, inv.tenant)
		}
		if !slices.Contains(o.envs, r.EnvID) {
			o.envs = append(o.envs, r.EnvID)
		}
	}

	alive := aliveSpans(obs)
	var v verifier
	outcomes := map[string]int{}
	attempts, probers, live := 0, 0, 0
	addrs := map[string]bool{}
	var firstErr string
	for i := range obs.Items {
		o := &obs.Items[i]
		r := o.Report
		if r == nil {
			continue
		}
		inv := invocation{tenant: o.Tenant, seq: o.Seq, report: r}
		if len(r.PeerAttempts) > 0 {
			probers++
		}
		for _, a := range r.PeerAttempts {
			attempts++
			outcomes[a.Outcome]++
			addrs[a.Addr] = true
			if a.Outcome == probes.PeerError && firstErr == "" {
				firstErr = a.Addr + ": " + a.Detail
			}
			if turnedAway(a.Outcome) && !o.Async && alive.during(a.Addr, o.Start, o.Start.Add(o.Duration)) {
				live++
			}
			// Only an answer is proof: "held" (no byte within the probe's budget) is what a
			// guarded peer looks like when the host is too busy to drop the connection in time.
			v.expect(a.Outcome, gomega.Not(gomega.Equal(probes.PeerAnswered)), peerFinding(inv, a, owners[a.Addr]))
		}
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status: reports.Fail,
			Reason: fmt.Sprintf("%d of %d attempts reached another environment's Runtime API (%s; %s)",
				n, attempts, outcomeCounts(outcomes), st.figures()),
			Evidence: v.evidence(),
		}
	}
	if res, ok := st.mostlyFailed(); ok {
		return res
	}
	if attempts == 0 {
		return reports.CheckResult{
			Status: reports.Skip,
			Reason: fmt.Sprintf("no other environment's Runtime API address was distinguishable (each "+
				"environment runs in its own VM or network namespace); %s", st.figures()),
		}
	}
	if attempts == outcomes[probes.PeerError]+outcomes[probes.PeerHeld] {
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("none of %d attempts on other environments' Runtime APIs was clearly turned away or answered (%s; first error: %s; %s)",
				attempts, outcomeCounts(outcomes), firstErr, st.figures()),
		}
	}
	if live == 0 {
		// A refusal from an address whose environment is gone says nothing about the guard.
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("%d attempts on other environments' Runtime APIs were turned away, but none while "+
				"that environment was shown to be alive (it served an invocation that ended before the knock "+
				"and one that started after it), so they may have hit recycled environments' old addresses "+
				"(%s; %s)", attempts, outcomeCounts(outcomes), st.figures()),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("%d attempts by %d invocations on %d other environments' Runtime APIs were all turned away, "+
			"%d of them while that environment was shown to be alive (%s; %s)",
			attempts, probers, len(addrs), live, outcomeCounts(outcomes), st.figures()),
	}
}

// turnedAway is an outcome in which the knock got nothing. It shows a guard only when the
// address's environment was alive at the time (see aliveSpans): a recycled environment's old
// address refuses too.
func turnedAway(outcome string) bool {
	switch outcome {
	case probes.PeerRefused, probes.PeerReset, probes.PeerClosed:
		return true
	}
	return false
}

// span is a stretch of time an environment was certainly running: from the end of the first
// synchronous invocation it served to the start of the last one.
type span struct{ from, to time.Time }

// liveness maps each Runtime API address to the spans of the environments that gave it.
type liveness map[string][]span

// aliveSpans works out, from the run's own synchronous invocations, when each environment
// was certainly running. An environment serves one invocation at a time and keeps its
// address for life, so if it served one invocation that ended before a knock and another
// that started after it, it was listening when the knock came. Event invocations say nothing
// here: their Start is when they were queued, not when they ran.
func aliveSpans(obs *runner.Observations) liveness {
	type key struct{ addr, env string }
	spans := map[key]*span{}
	var order []key
	for i := range obs.Items {
		o := &obs.Items[i]
		r := o.Report
		if o.Async || r == nil || r.RuntimeAPI == "" || r.EnvID == "" {
			continue
		}
		k := key{r.RuntimeAPI, r.EnvID}
		end := o.Start.Add(o.Duration)
		sp := spans[k]
		if sp == nil {
			spans[k] = &span{from: end, to: o.Start}
			order = append(order, k)
			continue
		}
		if end.Before(sp.from) {
			sp.from = end
		}
		if o.Start.After(sp.to) {
			sp.to = o.Start
		}
	}
	l := liveness{}
	for _, k := range order {
		if sp := spans[k]; sp.from.Before(sp.to) {
			l[k.addr] = append(l[k.addr], *sp)
		}
	}
	return l
}

// during reports whether some environment at addr was certainly running through [from, to].
func (l liveness) during(addr string, from, to time.Time) bool {
	for _, sp := range l[addr] {
		if !sp.from.After(from) && !to.After(sp.to) {
			return true
		}
	}
	return false
}

func peerFinding(inv invocation, a probes.PeerAttempt, owner *peerOwner) *finding {
	if owner == nil {
		owner = &peerOwner{}
	}
	quoted := make([]string, len(owner.tenants))
	for i, t := range owner.tenants {
		quoted[i] = strconv.Quote(t)
	}
	peer := strings.Join(quoted, ", ")
	if peer == "" {
		peer = "an unknown tenant"
	}
	r := inv.report
	return &finding{
		msg: fmt.Sprintf("tenant %q (environment %s) got %q from the Runtime API at %s, which serves %s",
			inv.tenant, r.EnvID, a.Outcome, a.Addr, peer),
		fields: map[string]string{
			"proberTenant":    inv.tenant,
			"proberEnvId":     r.EnvID,
			"proberRequestId": r.RequestID,
			"proberSeq":       strconv.FormatInt(inv.seq, 10),
			"peerAddr":        a.Addr,
			"peerTenants":     strings.Join(owner.tenants, ","),
			"peerEnvIds":      strings.Join(owner.envs, ","),
			"outcome":         a.Outcome,
			"detail":          a.Detail,
		},
	}
}

// outcomeCounts renders attempt outcomes in a fixed order, e.g. "3 reset, 1 refused". An
// outcome this version does not know cannot occur unjudged: evaluateRuntimeAPIPeers fails it.
func outcomeCounts(n map[string]int) string {
	var parts []string
	for _, o := range []string{probes.PeerAnswered, probes.PeerHeld, probes.PeerReset, probes.PeerClosed,
		probes.PeerRefused, probes.PeerError} {
		if n[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[o], o))
		}
	}
	return strings.Join(parts, ", ")
}
