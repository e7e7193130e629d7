// Package suites holds tenantcheck's checks: each is plain data plus one function that judges a
// run's observations. Checks never talk to the target; the runner has already done that, so a
// recorded run can be re-judged offline and every check is testable from hand-made observations.
package suites

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tenantcheck/tenantcheck/keyrules"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// Check is one conformance check. Its ID is public interface (users skip checks by it, CI
// dashboards track it), so IDs never change meaning once released.
type Check struct {
	ID    string
	Area  string
	Title string
	// Level is the RFC 2119 strength of the primary clause: MUST fails the run, SHOULD only warns.
	Level reports.Level
	// Clauses are the docs/CONTRACT.md clauses the check enforces, the primary one first (the
	// report's `clause`; Level is its strength). A check cites every clause whose "Checked by"
	// line names it, and TestContractDoc holds the two to each other both ways, so a reader of
	// either finds the other.
	Clauses []string
	// Severity orders findings for triage (critical, high, medium, low, info).
	Severity    string
	Remediation string
	// Places are the probe places the check needs the target to isolate. When the target
	// declares every one of them missing (runner.Isolation.Missing), the check is SKIPped with
	// the target's reason instead of being judged on a host that cannot support it.
	Places []probes.Place
	// Evaluate judges the observations. It only sets Status, Reason and Evidence; the
	// descriptive fields of the result are filled from the Check by Evaluate (the function).
	Evaluate func(obs *runner.Observations) reports.CheckResult
}

// All returns every known check, in a stable order. It builds the registry on each call so no
// caller can change what another sees.
func All() []Check {
	return append(append(append(append(append(append(append(isolationChecks(), runtimeAPIChecks()...), networkChecks()...), kernelChecks()...), resourceChecks()...), append(contractChecks(), retryCheck())...), append(lifecycleChecks(), logChecks()...)...), append(S3Checks(), gatewayChecks()...)...)
}

// Select picks checks by ID or area name. An empty include selects everything; skip is applied
// after include. Names are matched case-insensitively. An unknown name is an error rather than
// a silent no-op, because a mistyped --skip would otherwise run a check the user meant to skip
// (or a mistyped include would run nothing and look like success).
func Select(all []Check, include, skip []string) ([]Check, error) {
	match := func(names []string, flag string) (map[string]bool, error) {
		picked := make(map[string]bool)
		var unknown []string
		for _, raw := range names {
			name := strings.TrimSpace(raw)
			if name == "" {
				continue
			}
			found := false
			for _, c := range all {
				if strings.EqualFold(c.ID, name) || strings.EqualFold(c.Area, name) {
					picked[c.ID] = true
					found = true
				}
			}
			if !found {
				unknown = append(unknown, fmt.Sprintf("%q", name))
			}
		}
		if len(unknown) > 0 {
			return nil, fmt.Errorf("%s: unknown check or area %s (known areas: %s; check IDs: %s)",
				flag, strings.Join(unknown, ", "), strings.Join(areas(all), ", "), strings.Join(ids(all), ", "))
		}
		return picked, nil
	}
	included, err := match(include, "include")
	if err != nil {
		return nil, fmt.Errorf("select checks: %w", err)
	}
	skipped, err := match(skip, "skip")
	if err != nil {
		return nil, fmt.Errorf("select checks: %w", err)
	}
	var out []Check
	for _, c := range all {
		if (len(included) == 0 || included[c.ID]) && !skipped[c.ID] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("select checks: include %v and skip %v leave no check to run", include, skip)
	}
	return out, nil
}

// Complement returns the checks of all that are not in selected, so deselected checks can still
// be listed in the report as SKIP (see Skipped) instead of silently vanishing.
func Complement(all, selected []Check) []Check {
	in := make(map[string]bool, len(selected))
	for _, c := range selected {
		in[c.ID] = true
	}
	var out []Check
	for _, c := range all {
		if !in[c.ID] {
			out = append(out, c)
		}
	}
	return out
}

// Skipped reports checks that were not run (deselected by the user) as SKIP with the reason, so
// the report shows every check the tool knows and why some were not judged.
func Skipped(checks []Check, reason string) []reports.CheckResult {
	out := make([]reports.CheckResult, 0, len(checks))
	for _, c := range checks {
		out = append(out, describe(c, reports.CheckResult{Status: reports.Skip, Reason: reason}))
	}
	return out
}

// NotRun is the verdict of a run that ended before it observed anything (the target could not
// be stood up or the probe deployed, or Ctrl-C came first): every check ERRORs with the reason,
// so a pipeline that collects the report still finds one, and it says why there is nothing in it.
func NotRun(checks []Check, reason string) []reports.CheckResult {
	out := make([]reports.CheckResult, 0, len(checks))
	for _, c := range checks {
		out = append(out, describe(c, reports.CheckResult{Status: reports.Error, Reason: reason}))
	}
	return out
}

// Evaluate runs the checks against one run's observations, in order.
//
// It is where the SHOULD mapping lives: a SHOULD check whose evaluation FAILs is reported as
// WARN, so every renderer and reports.Summarize see the same status. It also SKIPs checks whose
// places the target declared it cannot isolate, and turns a panicking check into ERROR so one
// bug cannot lose the whole report.
func Evaluate(checks []Check, obs *runner.Observations) []reports.CheckResult {
	out := make([]reports.CheckResult, 0, len(checks))
	for _, c := range checks {
		start := time.Now()
		res := evaluateOne(c, obs)
		res.Duration = time.Since(start)
		out = append(out, res)
	}
	return out
}

func evaluateOne(c Check, obs *runner.Observations) (res reports.CheckResult) {
	defer func() {
		if p := recover(); p != nil {
			res = describe(c, reports.CheckResult{
				Status: reports.Error,
				Reason: fmt.Sprintf("check panicked (a tenantcheck bug, please report it): %v", p),
			})
		}
	}()
	switch {
	case obs == nil:
		return describe(c, reports.CheckResult{Status: reports.Error, Reason: "no observations: cannot judge"})
	case c.Evaluate == nil:
		return describe(c, reports.CheckResult{Status: reports.Error, Reason: "check has no evaluation function"})
	}
	if reason, ok := allMissing(c.Places, obs); ok {
		return describe(c, reports.CheckResult{Status: reports.Skip, Reason: reason})
	}
	res = describe(c, c.Evaluate(obs))
	if res.Level == reports.Should && res.Status == reports.Fail {
		res.Status = reports.Warn
	}
	return res
}

// describe copies the check's descriptive fields onto a result, so they have one source.
func describe(c Check, r reports.CheckResult) reports.CheckResult {
	r.ID, r.Area, r.Title, r.Level = c.ID, c.Area, c.Title, c.Level
	r.Clause, r.Clauses = c.PrimaryClause(), slices.Clone(c.Clauses)
	r.Severity, r.Remediation = c.Severity, c.Remediation
	return r
}

// PrimaryClause is the clause the check is filed under (Clauses[0]), or "" when it cites none.
func (c Check) PrimaryClause() string {
	if len(c.Clauses) == 0 {
		return ""
	}
	return c.Clauses[0]
}

// missingPlaces returns the target's declared reason per place it cannot isolate.
func missingPlaces(obs *runner.Observations) map[probes.Place]string {
	if obs == nil || obs.Target.Isolation == nil {
		return nil
	}
	return obs.Target.Isolation.Missing
}

// allMissing reports whether the target declared every one of places missing, with the reasons.
func allMissing(places []probes.Place, obs *runner.Observations) (string, bool) {
	missing := missingPlaces(obs)
	if len(places) == 0 || len(missing) == 0 {
		return "", false
	}
	var reasons []string
	for _, p := range places {
		why, ok := missing[p]
		if !ok {
			return "", false
		}
		reasons = append(reasons, missingReason(p, why))
	}
	return "target cannot isolate this here: " + strings.Join(reasons, "; "), true
}

func missingReason(p probes.Place, why string) string {
	if why == "" {
		why = "declared missing, no reason given"
	}
	return fmt.Sprintf("%s: %s", p, why)
}

// Power measures how many chances to leak the run created, for reports.Report.Power.
func Power(obs *runner.Observations) reports.Power {
	if obs == nil {
		return reports.Power{}
	}
	st := measure(obs)
	p := reports.Power{
		Invocations:   st.invocations,
		Opportunities: obs.Opportunities,
		WarmReuses:    st.warm,
		DetectP1pct:   reports.DetectProbability(obs.Opportunities, 0.01),
		DetectP01pct:  reports.DetectProbability(obs.Opportunities, 0.001),
	}
	if len(obs.Items) > 0 {
		p.KeyRules, p.Paths = keyRuleCoverage(obs), invocationPaths(obs)
	}
	return p
}

// invocationPaths counts the run's invocations by path, in a fixed order.
func invocationPaths(obs *runner.Observations) []reports.PathCount {
	paths := []reports.PathCount{{Path: "sync"}, {Path: "event"}, {Path: "stream"},
		{Path: string(probes.ActionError)}, {Path: string(probes.ActionCrash)}, {Path: string(probes.ActionTimeout)}}
	add := func(path string) {
		for i := range paths {
			if paths[i].Path == path {
				paths[i].Invocations++
			}
		}
	}
	for _, o := range obs.Items {
		switch {
		case o.Async:
			add("event")
		case o.Stream:
			add("stream")
		default:
			add("sync")
		}
		if o.Action != probes.ActionNone {
			add(string(o.Action))
		}
	}
	return paths
}

// keyRuleCoverage finds, for each wrong-key rule, two tenants that share a key under it and were
// both invoked successfully, one of them after an invocation of the other had finished: a target
// keyed by the rule would then have handed the first one's environment to the second.
func keyRuleCoverage(obs *runner.Observations) *reports.KeyRuleCoverage {
	firstDone := map[string]time.Time{} // tenant -> end of its first successful invocation
	lastStart := map[string]time.Time{} // tenant -> start of its last successful invocation
	for _, o := range obs.Items {
		if o.Report == nil || o.Err != "" {
			continue
		}
		end := o.Start.Add(o.Duration)
		if t, ok := firstDone[o.Tenant]; !ok || end.Before(t) {
			firstDone[o.Tenant] = end
		}
		if o.Start.After(lastStart[o.Tenant]) {
			lastStart[o.Tenant] = o.Start
		}
	}
	tenants := make([]string, 0, len(firstDone))
	for t := range firstDone {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	cov := &reports.KeyRuleCoverage{Covered: []string{}, NotCovered: []string{}}
	for _, r := range keyrules.All() {
		buckets := map[string][]string{}
		for _, t := range tenants {
			buckets[r.Key(t)] = append(buckets[r.Key(t)], t)
		}
		hit := false
		for _, b := range buckets {
			if len(b) > 1 && followedWithin(b, firstDone, lastStart) {
				hit = true
				break
			}
		}
		if hit {
			cov.Covered = append(cov.Covered, r.Name)
		} else {
			cov.NotCovered = append(cov.NotCovered, r.Name)
		}
	}
	return cov
}

// followedWithin reports whether some tenant of group (two or more) was invoked after another
// one's invocation had finished. It is enough to test each tenant against the one whose first
// invocation finished earliest, or, for that one itself, against the earliest of the rest.
func followedWithin(group []string, firstDone, lastStart map[string]time.Time) bool {
	first := group[0]
	for _, t := range group[1:] {
		if firstDone[t].Before(firstDone[first]) {
			first = t
		}
	}
	var restDone time.Time
	for _, t := range group {
		if t == first {
			continue
		}
		if lastStart[t].After(firstDone[first]) {
			return true
		}
		if restDone.IsZero() || firstDone[t].Before(restDone) {
			restDone = firstDone[t]
		}
	}
	return lastStart[first].After(restDone)
}

func areas(all []Check) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range all {
		if !seen[c.Area] {
			seen[c.Area] = true
			out = append(out, c.Area)
		}
	}
	sort.Strings(out)
	return out
}

func ids(all []Check) []string {
	out := make([]string, 0, len(all))
	for _, c := range all {
		out = append(out, c.ID)
	}
	return out
}
