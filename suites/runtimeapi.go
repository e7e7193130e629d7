package suites

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// placeRuntimeAPI is the key under which a target declares that its environments can reach
// each other's Runtime API (the built-in target does when it cannot authenticate connections),
// so the check SKIPs with the target's reason instead of failing a known, declared gap.
const placeRuntimeAPI probes.Place = "runtime-api"

func runtimeAPIChecks() []Check {
	return []Check{{
		ID: "TI-RAPI-001", Area: AreaIsolation, Level: reports.Must, Clause: "RT-05", Severity: "critical",
		Title: "An environment cannot reach another environment's Runtime API",
		Remediation: "Serve each execution environment's Runtime API to that environment only: give it its " +
			"own VM or network namespace, or authenticate every connection (for instance by the uid " +
			"owning the client socket) and drop strangers before reading a byte.",
		Places:   []probes.Place{placeRuntimeAPI},
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

	var v verifier
	outcomes := map[string]int{}
	attempts, probers := 0, 0
	addrs := map[string]bool{}
	var firstErr string
	for _, inv := range withReports(obs) {
		r := inv.report
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
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("%d attempts by %d invocations on %d other environments' Runtime APIs were all turned away (%s; %s)",
			attempts, probers, len(addrs), outcomeCounts(outcomes), st.figures()),
	}
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
