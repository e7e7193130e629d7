package reports_test

import (
	"fmt"

	"github.com/tenantcheck/tenantcheck/reports"
)

// How strong is a PASS? With 459 chances to leak, a target that recycles environments across
// tenants 1% of the time is caught 99% of the time; a 0.1% fault mostly slips through.
func ExampleDetectProbability() {
	fmt.Printf("%.3f %.3f\n", reports.DetectProbability(459, 0.01), reports.DetectProbability(459, 0.001))
	// Output: 0.990 0.368
}

// A SHOULD warning never fails a run; an inconclusive MUST check makes it unsure (exit 2).
func ExampleSummarize() {
	s := reports.Summarize([]reports.CheckResult{
		{ID: "TI-MEM-001", Level: reports.Must, Status: reports.Pass},
		{ID: "TI-FS-002", Level: reports.Should, Status: reports.Warn},
		{ID: "TI-REUSE-001", Level: reports.Must, Status: reports.Inconclusive},
	})
	fmt.Println(s.Verdict, s.ExitCode, s.Reason)
	// Output: INCONCLUSIVE 2 MUST checks were inconclusive: TI-REUSE-001
}
