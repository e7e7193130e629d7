package suites

import (
	"fmt"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// This example is how a new check is written and tried. A check lives in this package (add it to
// the list its area's function returns, e.g. isolationChecks) so its Evaluate can use the
// package's helpers: measure for the run's figures and the ERRORs every check shares,
// withReports for the invocations that returned a probe report (with the runner's ground-truth
// tenant), and a verifier to gather every unmet expectation as evidence instead of stopping at
// the first. Evaluate only decides Status, Reason and Evidence: the descriptive fields come
// from the Check, and Evaluate (the function) turns a failed SHOULD into WARN and SKIPs a check
// whose Places the target declared it cannot isolate.
//
// Because checks never talk to a target, a hand-made runner.Observations is all a test needs.
// `run` and `judge` go through Judge, which calls Evaluate and adds the run-wide rules (every
// deselected check as SKIP, no PASS from an incomplete run); Evaluate is the part a check sees.
func Example_writeACheck() {
	tmpWritable := Check{
		ID: "TI-EXAMPLE-001", Area: AreaIsolation, Level: reports.Should, Clauses: []string{"ENV-03"}, Severity: "low",
		Title:       "Every invocation can plant its /tmp canary",
		Remediation: "Give every execution environment a private, writable /tmp.",
		Places:      []probes.Place{probes.PlaceTmp},
		Evaluate: func(obs *runner.Observations) reports.CheckResult {
			st := measure(obs)
			if res, ok := st.noReports(); ok {
				return res
			}
			var v verifier
			for _, inv := range withReports(obs) {
				for _, p := range inv.report.Planted {
					if p.Place != probes.PlaceTmp {
						continue
					}
					v.expect(p.Planted, gomega.BeTrue(), &finding{
						msg:    fmt.Sprintf("tenant %q could not plant in /tmp: %s", inv.tenant, p.Error),
						fields: map[string]string{"tenant": inv.tenant, "error": p.Error},
					})
				}
			}
			if n := v.count(); n > 0 {
				return reports.CheckResult{Status: reports.Fail, Evidence: v.evidence(),
					Reason: fmt.Sprintf("%d invocations could not plant in /tmp (%s)", n, st.figures())}
			}
			return reports.CheckResult{Status: reports.Pass, Reason: "every invocation planted in /tmp (" + st.figures() + ")"}
		},
	}

	// Three invocations: tenant-a twice (the second warm), tenant-b once, with a read-only /tmp.
	report := func(cold bool, planted bool, err string) *probes.Report {
		return &probes.Report{Cold: cold, Planted: []probes.PlantResult{{Place: probes.PlaceTmp, Planted: planted, Error: err}}}
	}
	obs := &runner.Observations{Items: []runner.Observation{
		{Seq: 1, Tenant: "tenant-a", Report: report(true, true, "")},
		{Seq: 2, Tenant: "tenant-a", Report: report(false, true, "")},
		{Seq: 3, Tenant: "tenant-b", Report: report(true, false, "open /tmp/canary: read-only file system")},
	}, Opportunities: 1}

	show := func(res reports.CheckResult) {
		fmt.Printf("%s %s: %s\n", res.ID, res.Status, res.Reason)
		for _, e := range res.Evidence {
			fmt.Println("  evidence:", e.Message)
		}
	}
	show(Evaluate([]Check{tmpWritable}, obs)[0])

	// A target that declares /tmp beyond its isolation gets a SKIP with its reason instead.
	obs.Target.Isolation = &runner.Isolation{Level: "process", Missing: map[probes.Place]string{probes.PlaceTmp: "shared with the host"}}
	show(Evaluate([]Check{tmpWritable}, obs)[0])

	// Output:
	// TI-EXAMPLE-001 WARN: 1 invocations could not plant in /tmp (3 invocations, 1 warm, 1 opportunities)
	//   evidence: tenant "tenant-b" could not plant in /tmp: open /tmp/canary: read-only file system
	// TI-EXAMPLE-001 SKIP: target cannot isolate this here: tmp: shared with the host
}
