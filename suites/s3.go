package suites

import (
	"fmt"
	"strconv"
	"time"

	"github.com/onsi/gomega"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// AreaS3 groups the checks that judge tenant-scoped data access with STS credentials.
const AreaS3 = "s3"

// expirySlack absorbs the time between the broker sending AssumeRole and STS stamping the
// expiry, plus clock skew against a remote STS; far below any lifetime mistake worth finding.
const expirySlack = 30 * time.Second

const scopeRemediation = "Mint each tenant's credentials with sts:AssumeRole and an inline session " +
	"policy (or a TenantId session tag read through ${aws:PrincipalTag/TenantId}) that names only " +
	"that tenant's bucket or prefix; take the tenant from the verified token, never from the request."

// S3Checks returns the s3 area's checks. The suites registry (All) appends them.
func S3Checks() []Check {
	return []Check{
		{
			ID: "TI-S3-001", Area: AreaS3, Level: reports.Must, Clauses: []string{"DATA-02", "DATA-01"}, Severity: "high",
			Title:       "A tenant's scoped credentials can read and write its own data (positive control)",
			Remediation: scopeRemediation,
			Evaluate:    evaluateS3Own,
		},
		{
			ID: "TI-S3-002", Area: AreaS3, Level: reports.Must, Clauses: []string{"DATA-02", "DATA-01"}, Severity: "critical",
			Title:       "Every cross-tenant S3 operation is AccessDenied",
			Remediation: scopeRemediation + " The broker's own identity must have no S3 rights.",
			Evaluate:    evaluateS3Cross,
		},
		{
			ID: "TI-S3-003", Area: AreaS3, Level: reports.Must, Clauses: []string{"DATA-01"}, Severity: "medium",
			Title: "Tenant credentials are short-lived",
			Remediation: "Pass DurationSeconds to AssumeRole (900 s is the minimum) and keep the role's " +
				"MaxSessionDuration low; never hand a function long-lived keys.",
			Evaluate: evaluateS3Expiry,
		},
		{
			ID: "TI-S3-004", Area: AreaS3, Level: reports.Must, Clauses: []string{"DATA-01"}, Severity: "critical",
			Title: "One tenant's credentials never appear in another tenant's environment",
			Remediation: "Never cache tenant credentials where another tenant's invocation can reach " +
				"them: keep them per invocation, and never recycle an environment across tenants.",
			Evaluate: evaluateS3CredLeak,
		},
	}
}

// s3Attempt is one attempt with the invocation that made it.
type s3Attempt struct {
	probes.S3Attempt
	invoker string // the invoking tenant
	seq     int64
	report  *probes.Report
}

// s3Phase returns the S3 observations, or the result to give when there is nothing to judge:
// SKIP when the phase did not run (never PASS on a missing backend), ERROR when it failed to set
// up or no invocation produced a report with attempts.
func s3Phase(obs *runner.Observations) (*runner.S3Observations, []s3Attempt, *reports.CheckResult) {
	s := obs.S3
	switch {
	case s == nil:
		return nil, nil, &reports.CheckResult{Status: reports.Skip, Reason: "the S3 phase was not run (no S3 backend configured)"}
	case s.Skipped != "":
		return nil, nil, &reports.CheckResult{Status: reports.Skip, Reason: s.Skipped}
	case s.Failed != "":
		return nil, nil, &reports.CheckResult{Status: reports.Error, Reason: "the S3 phase could not run: " + s.Failed}
	}
	var out []s3Attempt
	failed := 0
	for i := range s.Items {
		o := &s.Items[i]
		if o.Report == nil {
			failed++
			continue
		}
		for _, a := range o.Report.S3 {
			out = append(out, s3Attempt{S3Attempt: a, invoker: o.Tenant, seq: o.Seq, report: o.Report})
		}
	}
	if len(out) == 0 {
		reason := fmt.Sprintf("no S3 attempts were reported by %d invocations (%d failed)", len(s.Items), failed)
		if len(s.Items) > 0 && failed == 0 {
			reason += ": the probe does not know Event.S3; redeploy it from this tenantcheck"
		}
		if first := firstErr(s.Items); first != "" {
			reason += "; first error: " + first
		}
		return s, nil, &reports.CheckResult{Status: reports.Error, Reason: reason}
	}
	return s, out, nil
}

func firstErr(items []runner.Observation) string {
	for _, o := range items {
		if o.Err != "" {
			return o.Err
		}
		if o.FunctionError != "" {
			return o.FunctionError + " " + o.ErrorType
		}
	}
	return ""
}

func s3Fields(a s3Attempt) map[string]string {
	f := map[string]string{
		"operation": a.Op, "bucket": a.Bucket, "key": a.Key, "tenant": a.invoker, "owner": a.Tenant,
		"mechanism": a.Mechanism, "allowed": strconv.FormatBool(a.Allowed), "seq": strconv.FormatInt(a.seq, 10),
		"envId": a.report.EnvID, "requestId": a.report.RequestID,
	}
	if a.ErrorCode != "" || a.HTTPStatus != 0 {
		f["errorCode"], f["httpStatus"] = a.ErrorCode, strconv.Itoa(a.HTTPStatus)
	}
	if a.Error != "" && a.ErrorCode == "" {
		f["error"] = a.Error
	}
	if a.BodyFingerprint != "" {
		f["bodyFingerprint"] = a.BodyFingerprint
	}
	return f
}

func outcome(a s3Attempt) string {
	switch {
	case a.Allowed:
		return "allowed"
	case a.ErrorCode != "":
		return a.ErrorCode
	default:
		return "failed: " + a.Error
	}
}

// secretOwner maps a seeded secret's fingerprint to the tenant it belongs to.
func secretOwner(s *runner.S3Observations) map[string]string {
	m := map[string]string{}
	for _, t := range s.Targets {
		m[t.SecretFingerprint] = t.Tenant
	}
	return m
}

// evaluateS3Own (DATA-02, positive control): every operation on the tenant's own data works,
// and GetObject returns the seeded secret. Without this, "cross-tenant denied" could just mean
// "the credentials work for nothing".
func evaluateS3Own(obs *runner.Observations) reports.CheckResult {
	s, atts, res := s3Phase(obs)
	if res != nil {
		return *res
	}
	owners := secretOwner(s)
	var v verifier
	own, late := 0, 0
	for _, a := range atts {
		if !a.Own {
			continue
		}
		if a.OutOfTime {
			late++ // cut short by the invocation's deadline: says nothing about access
			continue
		}
		own++
		v.expect(a.Allowed, gomega.BeTrue(), &finding{
			msg:    fmt.Sprintf("tenant %q: %s on its own %s/%s: %s (%s)", a.invoker, a.Op, a.Bucket, a.Key, outcome(a), a.Mechanism),
			fields: s3Fields(a),
		})
		if a.Op == probes.S3GetObject && a.Allowed {
			v.expect(owners[a.BodyFingerprint], gomega.Equal(a.invoker), &finding{
				msg: fmt.Sprintf("tenant %q: GetObject %s/%s returned %s, not its seeded secret",
					a.invoker, a.Bucket, a.Key, a.BodyFingerprint),
				fields: s3Fields(a),
			})
		}
	}
	lateNote := ""
	if late > 0 {
		lateNote = fmt.Sprintf("; %d more ran out of the function's time and are not judged", late)
	}
	if own == 0 {
		return reports.CheckResult{Status: reports.Inconclusive, Reason: "no attempt on a tenant's own data was reported" + lateNote}
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d own-data operations failed: the credentials do not reach the tenant's own data (%s%s)", n, own, s.Backend, lateNote),
			Evidence: v.evidence(),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("%d own-data operations by %d tenants all succeeded and read the seeded secret (%s%s)", own, countTenants(atts), s.Backend, lateNote),
	}
}

// evaluateS3Cross (DATA-02): every operation on another tenant's data is AccessDenied, and the
// broker's own identity reaches no tenant data.
func evaluateS3Cross(obs *runner.Observations) reports.CheckResult {
	s, atts, res := s3Phase(obs)
	if res != nil {
		return *res
	}
	owners := secretOwner(s)
	var leaks, odd verifier
	if s.BrokerAccess != "" {
		leaks.expect(s.BrokerAccess, gomega.BeEmpty(), &finding{
			msg:    "the broker's own identity can reach tenant data: " + s.BrokerAccess,
			fields: map[string]string{"broker": s.BrokerAccess},
		})
	}
	cross := 0
	for _, a := range atts {
		if a.Own {
			continue
		}
		cross++
		if a.Allowed {
			msg := fmt.Sprintf("tenant %q: %s on tenant %q's %s/%s was allowed (%s)", a.invoker, a.Op, a.Tenant, a.Bucket, a.Key, a.Mechanism)
			if o, ok := owners[a.BodyFingerprint]; ok && a.Op == probes.S3GetObject {
				msg += fmt.Sprintf(": it read tenant %q's secret %s", o, a.BodyFingerprint)
			}
			leaks.expect(a.Allowed, gomega.BeFalse(), &finding{msg: msg, fields: s3Fields(a)})
			continue
		}
		odd.expect(a.ErrorCode, gomega.Equal("AccessDenied"), &finding{
			msg:    fmt.Sprintf("tenant %q: %s on tenant %q's %s/%s ended %s, not AccessDenied", a.invoker, a.Op, a.Tenant, a.Bucket, a.Key, outcome(a)),
			fields: s3Fields(a),
		})
	}
	if n := leaks.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d cross-tenant operations went through (%d attempted; %s%s)", n, cross, s.Backend, faultNote(s)),
			Evidence: leaks.evidence(),
		}
	}
	if cross == 0 {
		return reports.CheckResult{Status: reports.Inconclusive, Reason: "no cross-tenant attempt was reported"}
	}
	if n := odd.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Inconclusive,
			Reason:   fmt.Sprintf("%d of %d cross-tenant operations failed with something other than AccessDenied, so denial is not proven", n, cross),
			Evidence: odd.evidence(),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("all %d cross-tenant operations by %d tenants were AccessDenied (%s)", cross, countTenants(atts), s.Backend),
	}
}

// evaluateS3Expiry (DATA-01): each minted credential expires no later than the lifetime the
// broker asked for.
func evaluateS3Expiry(obs *runner.Observations) reports.CheckResult {
	s := obs.S3
	switch {
	case s == nil:
		return reports.CheckResult{Status: reports.Skip, Reason: "the S3 phase was not run (no S3 backend configured)"}
	case s.Skipped != "":
		return reports.CheckResult{Status: reports.Skip, Reason: s.Skipped}
	case len(s.Credentials) == 0:
		return reports.CheckResult{Status: reports.Error, Reason: "no minted credentials were recorded"}
	}
	var v verifier
	var longest time.Duration
	for _, c := range s.Credentials {
		limit := c.Requested
		if limit <= 0 {
			limit = s.Duration
		}
		life := c.Expiration.Sub(c.IssuedAt)
		longest = max(longest, life)
		fields := map[string]string{
			"tenant": c.Tenant, "mechanism": c.Mechanism, "fingerprint": c.Fingerprint,
			"issuedAt": c.IssuedAt.UTC().Format(time.RFC3339), "lifetime": life.Round(time.Second).String(),
			"requested": limit.String(),
		}
		if c.Expiration.IsZero() {
			v.expect(false, gomega.BeTrue(), &finding{msg: fmt.Sprintf("tenant %q: credentials %s carry no expiry", c.Tenant, c.Fingerprint), fields: fields})
			continue
		}
		fields["expiration"] = c.Expiration.UTC().Format(time.RFC3339)
		v.expect(life, gomega.BeNumerically("<=", limit+expirySlack), &finding{
			msg: fmt.Sprintf("tenant %q: credentials %s live %s, asked for at most %s",
				c.Tenant, c.Fingerprint, life.Round(time.Second), limit),
			fields: fields,
		})
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d of %d credentials outlive the requested %s", n, len(s.Credentials), s.Duration),
			Evidence: v.evidence(),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("all %d credentials expire within the requested %s (longest %s)", len(s.Credentials), s.Duration, longest.Round(time.Second)),
	}
}

// evaluateS3CredLeak (DATA-01, ENV-06): no invocation finds another tenant's credential
// fingerprint in its environment's credential cache, and no environment serves S3 invocations
// of two tenants (its memory held the first tenant's credentials).
func evaluateS3CredLeak(obs *runner.Observations) reports.CheckResult {
	s, _, res := s3Phase(obs)
	if res != nil {
		return *res
	}
	var v verifier
	delivered, sightings := 0, 0
	envTenant := map[string]runner.Observation{}
	look := func(o runner.Observation) {
		r := o.Report
		if r == nil {
			return
		}
		for _, c := range r.S3CredsSeen {
			sightings++
			v.expect(c.Tenant, gomega.Equal(o.Tenant), &finding{
				msg: fmt.Sprintf("tenant %q's environment %s held tenant %q's credentials %s", o.Tenant, r.EnvID, c.Tenant, c.Fingerprint),
				fields: map[string]string{
					"tenant": o.Tenant, "envId": r.EnvID, "requestId": r.RequestID, "seq": strconv.FormatInt(o.Seq, 10),
					"credTenant": c.Tenant, "fingerprint": c.Fingerprint, "plantedEnvId": c.EnvID,
					"plantedRequestId": c.RequestID, "plantedSeq": strconv.FormatInt(c.Seq, 10),
				},
			})
		}
	}
	for _, o := range obs.Items {
		look(o)
	}
	for _, o := range s.Items {
		look(o)
		r := o.Report
		if r == nil || r.S3CredFingerprint == "" {
			continue
		}
		delivered++
		if first, ok := envTenant[r.EnvID]; ok {
			v.expect(o.Tenant, gomega.Equal(first.Tenant), &finding{
				msg: fmt.Sprintf("environment %s received credentials of tenant %q and then of tenant %q", r.EnvID, first.Tenant, o.Tenant),
				fields: map[string]string{
					"envId": r.EnvID, "firstTenant": first.Tenant, "firstFingerprint": first.Report.S3CredFingerprint,
					"tenant": o.Tenant, "fingerprint": r.S3CredFingerprint, "seq": strconv.FormatInt(o.Seq, 10),
				},
			})
		} else {
			envTenant[r.EnvID] = o
		}
	}
	if n := v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   fmt.Sprintf("%d times a tenant's credentials were within another tenant's reach", n),
			Evidence: v.evidence(),
		}
	}
	if delivered == 0 {
		return reports.CheckResult{Status: reports.Error, Reason: "no invocation reported the fingerprint of the credentials it received"}
	}
	if sightings == 0 {
		return reports.CheckResult{
			Status: reports.Inconclusive,
			Reason: fmt.Sprintf("%d invocations received credentials, but no environment was reused afterwards, so none could have shown a leak", delivered),
		}
	}
	return reports.CheckResult{
		Status: reports.Pass,
		Reason: fmt.Sprintf("%d invocations received credentials; %d later looks at reused environments found only their own tenant's", delivered, sightings),
	}
}

func countTenants(atts []s3Attempt) int {
	seen := map[string]bool{}
	for _, a := range atts {
		seen[a.invoker] = true
	}
	return len(seen)
}

func faultNote(s *runner.S3Observations) string {
	if len(s.Faults) == 0 {
		return ""
	}
	return fmt.Sprintf("; injected faults %v", s.Faults)
}
