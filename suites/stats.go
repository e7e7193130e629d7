package suites

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// runStats are the facts about a run that decide whether a check had the power to judge it.
type runStats struct {
	invocations   int
	errored       int // Observation.Err set: transport/API failure after retries
	throttled     int // of errored, 429s that outlasted the retries
	reports       int
	warm          int // reports with Cold=false: an environment served a second invocation
	opportunities int
	planted       map[probes.Place]int
	plantErrs     map[probes.Place][]string // distinct plant errors per place, in first-seen order
}

// maxPlantErrs bounds how many distinct plant errors a SKIP reason quotes.
const maxPlantErrs = 3

func measure(obs *runner.Observations) runStats {
	st := runStats{
		invocations:   len(obs.Items),
		opportunities: obs.Opportunities,
		planted:       map[probes.Place]int{},
		plantErrs:     map[probes.Place][]string{},
	}
	for i := range obs.Items {
		o := &obs.Items[i]
		if o.Err != "" {
			st.errored++
			if o.Throttled {
				st.throttled++
			}
		}
		r := o.Report
		if r == nil {
			continue
		}
		st.reports++
		if !r.Cold {
			st.warm++
		}
		for _, p := range r.Planted {
			if p.Planted {
				st.planted[p.Place]++
			} else if e := normalizePlantError(p.Error); e != "" && len(st.plantErrs[p.Place]) < maxPlantErrs && !contains(st.plantErrs[p.Place], e) {
				st.plantErrs[p.Place] = append(st.plantErrs[p.Place], e)
			}
		}
	}
	return st
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// figures is the common tail of every reason, so a reader can weigh any status. Invocations that
// failed are named: each one is a probe report the verdict could not use, and a target that
// refuses some tenants' calls must not look as well sampled as one that served them all.
func (st runStats) figures() string {
	s := fmt.Sprintf("%d invocations, %d warm, %d opportunities", st.invocations, st.warm, st.opportunities)
	if st.errored > 0 {
		s += fmt.Sprintf(", %d failed", st.errored)
		if st.throttled > 0 {
			s += fmt.Sprintf(" (%d throttled after retries)", st.throttled)
		}
	}
	return s
}

// noReports is the ERROR every check returns when there is nothing to judge.
func (st runStats) noReports() (reports.CheckResult, bool) {
	if st.reports > 0 {
		return reports.CheckResult{}, false
	}
	return reports.CheckResult{
		Status: reports.Error,
		Reason: fmt.Sprintf("no probe reports: cannot judge (%d invocations, %d failed, %d throttled after retries)",
			st.invocations, st.errored, st.throttled),
	}, true
}

// mostlyFailed is the ERROR for runs where the target or transport failed more than half the
// time (throttling that outlasted retries included): whatever the probes saw is too thin a
// sample to call PASS, and a target that throttles has not broken the isolation contract.
func (st runStats) mostlyFailed() (reports.CheckResult, bool) {
	if st.errored*2 <= st.invocations {
		return reports.CheckResult{}, false
	}
	return reports.CheckResult{
		Status: reports.Error,
		Reason: fmt.Sprintf("%d of %d invocations failed (%d throttled after retries): cannot judge",
			st.errored, st.invocations, st.throttled),
	}, true
}

// plantErrors summarizes why places could never be planted.
func (st runStats) plantErrors(places []probes.Place) string {
	var parts []string
	for _, p := range places {
		errs := st.plantErrs[p]
		if len(errs) == 0 {
			parts = append(parts, fmt.Sprintf("%s: never planted, no error reported", p))
			continue
		}
		if p == probes.PlaceCodeDir && allReadOnly(errs) {
			parts = append(parts, "code-dir: read-only, as it should be (TI-FS-002)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s", p, strings.Join(errs, " | ")))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// nonceRE matches the random parts of canary paths, so one failure repeated across environments
// is reported once.
var nonceRE = regexp.MustCompile(`[0-9a-f]{16,}`)

func normalizePlantError(e string) string { return nonceRE.ReplaceAllString(e, "*") }

func allReadOnly(errs []string) bool {
	for _, e := range errs {
		if !strings.Contains(e, "read-only file system") {
			return false
		}
	}
	return len(errs) > 0
}
