package reports

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Exit codes of a run. They are public interface: CI pipelines branch on them.
const (
	// ExitPass: no MUST check failed, errored or was inconclusive (SKIP and WARN allowed).
	ExitPass = 0
	// ExitFail: at least one MUST check FAILed, i.e. the target broke the contract.
	ExitFail = 1
	// ExitUnsure: nothing failed but the run could not conclude (a MUST check ERRORed or was
	// INCONCLUSIVE, or every check was skipped). Also used by the CLI when the tool itself fails.
	ExitUnsure = 2
)

// Statuses lists every status in a fixed order, so counts and renderers never depend on map order.
func Statuses() []Status {
	return []Status{Pass, Fail, Warn, Skip, Inconclusive, Error}
}

// Summarize derives the run's verdict and exit code from its check results.
//
// Only MUST checks can fail a run or make it unsure: a SHOULD check is advisory by definition.
// Summarize does not rewrite statuses; the SHOULD-violation-to-WARN mapping happens where checks
// are evaluated (suites.Evaluate), so every renderer shows the same status the exit code used.
// A stray SHOULD result with status FAIL is therefore counted as FAIL but does not set exit 1.
func Summarize(results []CheckResult) Summary {
	s := Summary{Counts: make(map[Status]int, len(Statuses())), Total: len(results)}
	for _, st := range Statuses() {
		s.Counts[st] = 0
	}
	var failed, errored, inconclusive []string
	skipped := 0
	for _, r := range results {
		s.Counts[r.Status]++
		if r.Status == Skip {
			skipped++
		}
		if r.Level != Must {
			continue
		}
		switch r.Status {
		case Fail:
			failed = append(failed, r.ID)
		case Error:
			errored = append(errored, r.ID)
		case Inconclusive:
			inconclusive = append(inconclusive, r.ID)
		}
	}
	switch {
	case len(failed) > 0:
		s.Verdict, s.ExitCode = Fail, ExitFail
		s.Reason = "MUST checks failed: " + idList(failed)
	case len(errored) > 0:
		s.Verdict, s.ExitCode = Error, ExitUnsure
		s.Reason = "MUST checks could not be judged: " + idList(errored)
		if len(inconclusive) > 0 {
			s.Reason += "; inconclusive: " + idList(inconclusive)
		}
	case len(inconclusive) > 0:
		s.Verdict, s.ExitCode = Inconclusive, ExitUnsure
		s.Reason = "MUST checks were inconclusive: " + idList(inconclusive)
	case skipped == len(results):
		// Zero checks, or all skipped: nothing was judged, so claiming PASS would be a lie.
		s.Verdict, s.ExitCode = Inconclusive, ExitUnsure
		s.Reason = "no check was run: every selected check was skipped"
	default:
		s.Verdict, s.ExitCode = Pass, ExitPass
		s.Reason = fmt.Sprintf("no MUST check failed (%d passed, %d warned, %d skipped)",
			s.Counts[Pass], s.Counts[Warn], s.Counts[Skip])
	}
	return s
}

func idList(ids []string) string {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	return strings.Join(sorted, ", ")
}

// DetectProbability is the chance that a run with the given number of opportunities catches a
// fault that recycles an environment across tenants at the given rate per opportunity:
// 1-(1-rate)^opportunities. It turns "no leak seen" into a statement of how hard we looked.
func DetectProbability(opportunities int, rate float64) float64 {
	switch {
	case opportunities <= 0 || rate <= 0 || math.IsNaN(rate):
		return 0
	case rate >= 1:
		return 1
	}
	// Expm1/Log1p keep precision for tiny rates, where (1-rate)^n underflows to rounding noise.
	return -math.Expm1(float64(opportunities) * math.Log1p(-rate))
}
