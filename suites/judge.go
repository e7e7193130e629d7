package suites

import (
	"fmt"
	"strings"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// DeselectedReason is why a check the user did not select is in the report as SKIP.
const DeselectedReason = "deselected by --checks/--skip"

// Judge is the one place a run's record becomes verdicts, used by `run` as it finishes and by
// `judge` on a saved observations file, so both give the same report. It evaluates the selected
// checks, reports every other known check as SKIP, and holds back a PASS wherever the run did
// not finish what it set out to try (obs.Incomplete): such a check is INCONCLUSIVE with the
// reason, an ERROR or INCONCLUSIVE one names the gap too, while a FAIL on what was seen stands.
func Judge(obs *runner.Observations, selected []Check) []reports.CheckResult {
	results := Evaluate(selected, obs)
	if obs != nil && len(obs.Incomplete) > 0 {
		for i := range results {
			why := gapReason(obs.Incomplete, results[i].Area)
			switch {
			case why == "":
			case results[i].Status == reports.Pass:
				results[i].Status = reports.Inconclusive
				results[i].Reason = fmt.Sprintf("run incomplete (%s), so no PASS: %s", why, results[i].Reason)
			case results[i].Status == reports.Error || results[i].Status == reports.Inconclusive:
				// The gap is the likelier cause of the error than anything the check names.
				results[i].Reason = fmt.Sprintf("run incomplete (%s): %s", why, results[i].Reason)
			}
		}
	}
	return append(results, Skipped(Complement(All(), selected), DeselectedReason)...)
}

// gapReason joins the reasons of the gaps that weaken area.
func gapReason(gaps []runner.Gap, area string) string {
	var why []string
	for _, g := range gaps {
		if g.Area == "" || g.Area == area {
			why = append(why, g.Reason)
		}
	}
	return strings.Join(why, "; ")
}
