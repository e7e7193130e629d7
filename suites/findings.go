package suites

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/onsi/gomega/types"

	"github.com/tenantcheck/tenantcheck/keyrules"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
)

// maxEvidence caps the evidence a check lists; the total is always stated, so a capped list
// never understates the problem, and a noisy target cannot produce a megabyte report.
const maxEvidence = 20

// finding is one violation, kept as an error so several can be gathered with go-multierror and
// still carry the structured fields an auditor needs.
type finding struct {
	msg    string
	fields map[string]string
}

func (f *finding) Error() string { return f.msg }

// verifier states expectations with gomega matchers and gathers every unmet one. It does not
// stop at the first failure: a report that shows all leaks is worth more than one that shows one.
type verifier struct {
	errs *multierror.Error
}

// expect records f when actual does not satisfy m. A matcher error (a bug in the check, not in
// the target) is recorded too, so it surfaces in the evidence instead of vanishing.
func (v *verifier) expect(actual any, m types.GomegaMatcher, f *finding) {
	v.expectLazily(actual, m, func() *finding { return f })
}

// expectLazily is expect for findings that cost something to describe: the finding is made only
// when the expectation fails. The leak checks test every canary every invocation found, nearly
// all of them the finder's own, and describing one names the wrong-key rules its tenants share.
func (v *verifier) expectLazily(actual any, m types.GomegaMatcher, describe func() *finding) {
	ok, err := m.Match(actual)
	if err != nil {
		v.errs = multierror.Append(v.errs, fmt.Errorf("%s: matcher error: %w", describe().msg, err))
		return
	}
	if !ok {
		v.errs = multierror.Append(v.errs, describe())
	}
}

func (v *verifier) count() int {
	if v.errs == nil {
		return 0
	}
	return len(v.errs.Errors)
}

// evidence converts the gathered findings, capped at maxEvidence with a closing line that says
// how many were left out and the total.
func (v *verifier) evidence() []reports.Evidence {
	if v.errs == nil {
		return nil
	}
	all := v.errs.Errors
	n := min(len(all), maxEvidence)
	out := make([]reports.Evidence, 0, n+1)
	for _, err := range all[:n] {
		var f *finding
		if errors.As(err, &f) {
			out = append(out, reports.Evidence{Message: f.msg, Fields: f.fields})
			continue
		}
		out = append(out, reports.Evidence{Message: err.Error()})
	}
	if rest := len(all) - n; rest > 0 {
		out = append(out, reports.Evidence{
			Message: fmt.Sprintf("... and %d more (%d findings in total)", rest, len(all)),
			Fields:  map[string]string{"total": strconv.Itoa(len(all)), "omitted": strconv.Itoa(rest)},
		})
	}
	return out
}

// leakFinding describes a canary found by an invocation of another tenant: where it was seen,
// which invocation planted it (as the canary itself records) and which invocation found it.
func leakFinding(o *invocation, found probes.Found) *finding {
	c := found.Canary
	place := found.Place
	if place == "" {
		place = c.Place
	}
	f := &finding{
		msg: fmt.Sprintf("tenant %q found a %s canary planted by tenant %q at %s",
			o.tenant, place, c.Tenant, found.Where),
		fields: map[string]string{
			"place":                string(place),
			"where":                found.Where,
			"nonce":                c.Nonce,
			"plantedRunId":         c.RunID,
			"plantedTenant":        c.Tenant,
			"plantedContextTenant": c.ContextTenant,
			"plantedRequestId":     c.RequestID,
			"plantedEnvId":         c.EnvID,
			"plantedSeq":           strconv.FormatInt(c.Seq, 10),
			"foundTenant":          o.tenant,
			"foundRequestId":       o.report.RequestID,
			"foundEnvId":           o.report.EnvID,
			"foundSeq":             strconv.FormatInt(o.seq, 10),
		},
	}
	return withCollisions(f, []string{c.Tenant, o.tenant})
}

// withCollisions names the wrong-key rules (package keyrules) under which every one of tenants
// shares a key, so a reader of a leak between them sees which key the target may be finding
// environments by: "collidesUnder" lists them all, the message the first few.
func withCollisions(f *finding, tenants []string) *finding {
	if len(tenants) < 2 {
		return f
	}
	var common []string
	for _, r := range keyrules.All() {
		all := true
		for _, t := range tenants[1:] {
			if !r.Collides(tenants[0], t) {
				all = false
				break
			}
		}
		if all {
			common = append(common, r.Name)
		}
	}
	if len(common) == 0 {
		return f
	}
	f.fields["collidesUnder"] = strings.Join(common, ",")
	shown := common[:min(3, len(common))]
	msg := strings.Join(shown, ", ")
	if more := len(common) - len(shown); more > 0 {
		msg += fmt.Sprintf(" and %d more", more)
	}
	f.msg += "; the IDs share a key under the wrong-key rule(s) " + msg
	return f
}
