package suites

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// invocation is an observation that produced a probe report, with the runner's ground truth.
type invocation struct {
	tenant string // Observation.Tenant: what the runner asked for, never what the target echoed
	seq    int64
	report *probes.Report
}

func withReports(obs *runner.Observations) []invocation {
	var out []invocation
	for i := range obs.Items {
		o := &obs.Items[i]
		if o.Report != nil {
			out = append(out, invocation{tenant: o.Tenant, seq: o.Seq, report: o.Report})
		}
	}
	return out
}

// foundPlace is where a canary was seen; older probes may only set the canary's own place.
func foundPlace(f probes.Found) probes.Place {
	if f.Place != "" {
		return f.Place
	}
	return f.Canary.Place
}

// leakEvaluator judges "no canary planted by one tenant is ever found by another" for places.
//
// Ground truth decides: a finding is a leak when the canary's planting tenant differs, byte for
// byte, from the tenant the runner invoked the finder for. Canaries of other runs count too: a
// leak is a leak whoever planted it. Order of verdicts, most decisive first:
//
//	SKIP         every place declared missing by the target (done in Evaluate)
//	ERROR        no probe report at all
//	FAIL         any leak (a confirmed leak stands even in an otherwise failing run: the
//	             evidence comes from invocations that succeeded; throttling never creates one)
//	ERROR        more than half the invocations failed (incl. throttled after retries)
//	SKIP         no place was ever planted: the check cannot work on this target
//	INCONCLUSIVE no warm reuse, so no chance to leak was created
//	PASS         otherwise, naming any places that could not be judged
func leakEvaluator(places []probes.Place) func(*runner.Observations) reports.CheckResult {
	return func(obs *runner.Observations) reports.CheckResult {
		st := measure(obs)
		missing := missingPlaces(obs)
		var judged, notJudged []probes.Place
		var notes []string
		for _, p := range places {
			if why, ok := missing[p]; ok {
				notes = append(notes, "not judged: "+missingReason(p, why))
				continue
			}
			judged = append(judged, p)
		}
		inScope := make(map[probes.Place]bool, len(judged))
		for _, p := range judged {
			inScope[p] = true
		}

		if res, ok := st.noReports(); ok {
			return res
		}
		var v verifier
		canaries := map[string]bool{}
		for _, inv := range withReports(obs) {
			for _, f := range inv.report.Found {
				if !inScope[foundPlace(f)] {
					continue
				}
				before := v.count()
				v.expectLazily(f.Canary.Tenant, gomega.Equal(inv.tenant), func() *finding { return leakFinding(&inv, f) })
				if v.count() > before {
					canaries[f.Canary.Nonce] = true
				}
			}
		}
		if n := v.count(); n > 0 {
			return reports.CheckResult{
				Status: reports.Fail,
				Reason: withNotes(fmt.Sprintf("%s (%s) across tenants in %s",
					plural(n, "leak", "leaks"), plural(len(canaries), "distinct canary", "distinct canaries"),
					st.figures()), notes),
				Evidence: v.evidence(),
			}
		}
		if res, ok := st.mostlyFailed(); ok {
			return res
		}

		var planted []probes.Place
		for _, p := range judged {
			if st.planted[p] > 0 {
				planted = append(planted, p)
			} else {
				notJudged = append(notJudged, p)
			}
		}
		if len(planted) == 0 {
			return reports.CheckResult{
				Status: reports.Skip,
				Reason: withNotes("no canary could be planted: "+st.plantErrors(judged), notes),
			}
		}
		if len(notJudged) > 0 {
			notes = append(notes, "never planted: "+st.plantErrors(notJudged))
		}
		if st.warm == 0 {
			return reports.CheckResult{
				Status: reports.Inconclusive,
				Reason: withNotes(fmt.Sprintf("no environment was reused, so no chance to leak was created (%s)",
					st.figures()), notes),
			}
		}
		plants := 0
		for _, p := range planted {
			plants += st.planted[p]
		}
		return reports.CheckResult{
			Status: reports.Pass,
			Reason: withNotes(fmt.Sprintf("0 leaks in %s, %d canaries planted", st.figures(), plants), notes),
		}
	}
}

// plural keeps reasons grammatical: "1 leak", "2 leaks".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// withNotes appends caveats to a one-line reason.
func withNotes(reason string, notes []string) string {
	if len(notes) == 0 {
		return reason
	}
	return reason + "; " + strings.Join(notes, "; ")
}
