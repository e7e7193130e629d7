package suites

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tenantcheck/tenantcheck/authorizer"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// AreaGateway holds the checks of the gateway phase (runner.RunGateway): requests through a REST
// API front door the phase deploys, with a JWT authorizer and usage plans.
const AreaGateway = "gateway"

func gatewayChecks() []Check {
	return []Check{
		{ID: "TI-GW-001", Area: AreaGateway, Level: reports.Must, Clauses: []string{"GW-04", "GW-01", "GW-02"}, Severity: "critical",
			Title:       "A request reaches the environment of its verified token's tenant, whatever tenant the client names",
			Remediation: "Map X-Amz-Tenant-Id from the authorizer's context (integration.request.header.X-Amz-Tenant-Id: context.authorizer.tenantId), never from a header, query parameter or stage variable the client controls, and never forward the client's own X-Amz-Tenant-Id.",
			Evaluate:    evaluateSpoofs},
		{ID: "TI-GW-002", Area: AreaGateway, Level: reports.Must, Clauses: []string{"GW-05"}, Severity: "critical",
			Title:       "Unsigned, expired, not-yet-valid, wrong-key and wrong-audience tokens are refused before any environment",
			Remediation: "Verify every token in the authorizer: signature against the issuer's keys (RS256/ES256 only, never alg none), exp and nbf, issuer and audience; answer \"Unauthorized\" otherwise.",
			Evaluate:    tokenEvaluator(authorizer.BrokenUnsigned, authorizer.BrokenExpired, authorizer.BrokenNotYetValid, authorizer.BrokenWrongKey, authorizer.BrokenAudience)},
		{ID: "TI-GW-003", Area: AreaGateway, Level: reports.Must, Clauses: []string{"GW-06"}, Severity: "critical",
			Title:       "A token whose tenant claim was edited is refused",
			Remediation: "Verify the token's signature before reading any claim; a decoded but unverified token lets a caller name any tenant.",
			Evaluate:    tokenEvaluator(authorizer.BrokenTampered)},
		{ID: "TI-GW-004", Area: AreaGateway, Level: reports.Must, Clauses: []string{"GW-07"}, Severity: "critical",
			Title:       "An authorizer's cached result is never served to another tenant's request",
			Remediation: "Make the token (the Authorization header) the authorizer's identity source, or one of them; with a REQUEST authorizer, cache only on values that identify the caller, or set authorizerResultTtlInSeconds to 0.",
			Evaluate:    evaluateAuthCache},
		{ID: "TI-GW-005", Area: AreaGateway, Level: reports.Must, Clauses: []string{"GW-03"}, Severity: "high",
			Title:       "A noisy tenant is throttled at its plan's rate while a quiet tenant within its plan is never throttled",
			Remediation: "Give every tenant an API key of its own in a usage plan (the authorizer's usageIdentifierKey per tenant, never one shared key), with a throttle set.",
			Evaluate:    evaluateNoisyNeighbour},
		{ID: "TI-GW-006", Area: AreaGateway, Level: reports.Must, Clauses: []string{"GW-08", "DATA-02"}, Severity: "critical",
			Title:       "Credentials the authorizer passes reach only the request's tenant's S3 data",
			Remediation: "Have the authorizer assume the tenant role with a session policy naming only the verified tenant's bucket or prefix (or session tags the role's policy keys on), never the role's own permissions.",
			Evaluate:    evaluateAuthorizerCredentials},
	}
}

// evaluateAuthorizerCredentials (TI-GW-006): through the front door, each tenant's function,
// using the credentials in the authorizer's context, reads its own data (the control) and is
// denied every call on the other tenant's.
func evaluateAuthorizerCredentials(obs *runner.Observations) reports.CheckResult {
	g, skip := gatewayReady(obs)
	if skip != nil {
		return *skip
	}
	if g.CredsNotRun != "" {
		return reports.CheckResult{Status: reports.Skip, Reason: "credentials case not run: " + g.CredsNotRun}
	}
	t := &gatewayTally{}
	own := 0
	for _, r := range requestsOf(g, runner.GatewayCreds) {
		if r.Status != http.StatusOK || r.Reached == "" || len(r.S3) == 0 {
			t.unjudged = append(t.unjudged, r.Case+": "+gatewayOutcome(r)+" (no S3 calls reported: did the authorizer pass credentials?)")
			continue
		}
		t.judged++
		ownOK, denied := false, 0
		for _, a := range r.S3 {
			switch {
			case a.OutOfTime:
			case a.Own && a.Allowed:
				ownOK = true
			case !a.Own && a.Allowed:
				t.fail(r, "tenant %s's function, with the authorizer's credentials, was allowed %s on tenant %s's data (%s/%s)", r.TokenTenant, a.Op, a.Tenant, a.Bucket, a.Key)
			case !a.Own && a.ErrorCode == "AccessDenied":
				denied++
			case !a.Own:
				// Not a denial: a network error or a missing key says nothing about the policy.
				t.unjudged = append(t.unjudged, fmt.Sprintf("%s: %s on tenant %s's data failed with %s, not AccessDenied", r.Case, a.Op, a.Tenant, cmp.Or(a.ErrorCode, a.Error)))
			}
		}
		switch {
		case !ownOK:
			t.unjudged = append(t.unjudged, r.Case+": the authorizer's credentials could not reach the tenant's own data, so the denials prove nothing")
		case denied == 0:
			t.unjudged = append(t.unjudged, r.Case+": no call on another tenant's data was denied with AccessDenied")
		default:
			own++
		}
	}
	return t.result(fmt.Sprintf("%d tenants reached their own data and were denied the other's with the authorizer's credentials", own))
}

// gatewayReady SKIPs every gateway check when the phase did not run.
func gatewayReady(obs *runner.Observations) (*runner.GatewayObservations, *reports.CheckResult) {
	g := obs.Gateway
	switch {
	case g == nil:
		return nil, &reports.CheckResult{Status: reports.Skip, Reason: "gateway phase not run"}
	case g.NotRun != "":
		return nil, &reports.CheckResult{Status: reports.Skip, Reason: "gateway phase not run: " + g.NotRun}
	case g.SetupError != "":
		return nil, &reports.CheckResult{Status: reports.Error, Reason: "the gateway phase could not set up its front door: " + g.SetupError}
	}
	return g, nil
}

func requestsOf(g *runner.GatewayObservations, prefix string) []runner.GatewayRequest {
	var out []runner.GatewayRequest
	for _, r := range g.Requests {
		if strings.HasPrefix(r.Case, prefix+"/") {
			out = append(out, r)
		}
	}
	return out
}

func requestFields(r runner.GatewayRequest) map[string]string {
	f := map[string]string{"case": r.Case, "status": strconv.Itoa(r.Status), "tokenTenant": r.TokenTenant}
	for k, v := range map[string]string{"reached": r.Reached, "env": r.EnvID, "spoof": r.Spoof, "claimed": r.Claimed,
		"body": r.Body, "reason": r.Reason, "error": r.Err} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

func gatewayOutcome(r runner.GatewayRequest) string {
	switch {
	case r.Err != "":
		return r.Err
	case r.Reason != "":
		return fmt.Sprintf("%d (%s)", r.Status, r.Reason)
	}
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(r.Body))
}

// gatewayTally gathers findings and what could not be judged, and turns them into a verdict.
type gatewayTally struct {
	findings []reports.Evidence
	unjudged []string
	judged   int
}

func (t *gatewayTally) fail(r runner.GatewayRequest, format string, args ...any) {
	t.findings = append(t.findings, reports.Evidence{Message: fmt.Sprintf(format, args...), Fields: requestFields(r)})
}

// result: FAIL on findings; ERROR when nothing was judged; INCONCLUSIVE when some cases were
// not (a PASS must mean every case was tried); PASS otherwise.
func (t *gatewayTally) result(pass string) reports.CheckResult {
	switch {
	case len(t.findings) > 0:
		return reports.CheckResult{Status: reports.Fail, Evidence: t.findings,
			Reason: fmt.Sprintf("%s: %s", plural(len(t.findings), "violation", "violations"), t.findings[0].Message)}
	case t.judged == 0:
		return reports.CheckResult{Status: reports.Error, Reason: "no request could be judged: " + cmp.Or(strings.Join(t.unjudged, "; "), "none was sent")}
	case len(t.unjudged) > 0:
		return reports.CheckResult{Status: reports.Inconclusive,
			Reason: fmt.Sprintf("%s; not judged: %s", pass, strings.Join(t.unjudged, "; "))}
	}
	return reports.CheckResult{Status: reports.Pass, Reason: pass}
}

// evaluateSpoofs (TI-GW-001): every request with tenant a's token, whatever tenant the client
// named beside it, reached tenant a.
func evaluateSpoofs(obs *runner.Observations) reports.CheckResult {
	g, skip := gatewayReady(obs)
	if skip != nil {
		return *skip
	}
	t := &gatewayTally{}
	var ways []string
	for _, r := range requestsOf(g, runner.GatewaySpoof) {
		if r.Status != http.StatusOK || r.Reached == "" {
			t.unjudged = append(t.unjudged, r.Case+": "+gatewayOutcome(r))
			continue
		}
		t.judged++
		switch {
		case r.Reached == r.TokenTenant:
			if r.Spoof != "" {
				ways = append(ways, strings.TrimPrefix(r.Case, runner.GatewaySpoof+"/"))
			}
		case r.Spoof != "" && r.Reached == r.Spoof:
			t.fail(r, "a request with %s's verified token reached tenant %s, named by the client (%s)", r.TokenTenant, r.Reached, r.Case)
		default:
			t.fail(r, "a request with %s's verified token reached tenant %s (%s)", r.TokenTenant, r.Reached, r.Case)
		}
	}
	res := t.result(fmt.Sprintf("%d requests reached the token's tenant, %d of them naming another tenant (%s)", t.judged, len(ways), strings.Join(ways, ", ")))
	res.Evidence = append(res.Evidence, lintEvidence(g)...)
	return res
}

// lintEvidence is what lint-api found in the deployed API's own export, as evidence: the
// definition the front door serves, read back.
func lintEvidence(g *runner.GatewayObservations) []reports.Evidence {
	if g.LintError != "" {
		return []reports.Evidence{{Message: "lint-api could not read the deployed API's export: " + g.LintError}}
	}
	if len(g.Lint) == 0 {
		return []reports.Evidence{{Message: "lint-api found nothing in the deployed API's export (GetExport oas30)"}}
	}
	var out []reports.Evidence
	for _, f := range g.Lint {
		out = append(out, reports.Evidence{Message: "lint-api on the deployed API's export: " + f.Message,
			Fields: map[string]string{"rule": f.Rule, "path": f.Path, "line": strconv.Itoa(f.Line)}})
	}
	return out
}

// tokenEvaluator (TI-GW-002, TI-GW-003): each token of the kinds was refused with 401 or 403 and
// reached no environment; the valid token on the same path is the control.
func tokenEvaluator(kinds ...authorizer.Broken) func(*runner.Observations) reports.CheckResult {
	return func(obs *runner.Observations) reports.CheckResult {
		g, skip := gatewayReady(obs)
		if skip != nil {
			return *skip
		}
		t := &gatewayTally{}
		control := false
		byCase := map[string]runner.GatewayRequest{}
		for _, r := range requestsOf(g, runner.GatewayToken) {
			byCase[r.Case] = r
			if r.Case == runner.GatewayToken+"/valid" && r.Status == http.StatusOK && r.Reached == r.TokenTenant {
				control = true
			}
		}
		for _, k := range kinds {
			r, ok := byCase[runner.GatewayToken+"/"+string(k)]
			switch {
			case !ok:
				t.unjudged = append(t.unjudged, string(k)+": not sent")
			case r.Reached != "":
				who := r.Reached
				if r.Claimed != "" && r.Reached == r.Claimed {
					who += ", the tenant its edited claim names"
				}
				t.judged++
				t.fail(r, "a %s token was accepted and reached tenant %s", k, who)
			case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
				t.judged++
			default:
				t.unjudged = append(t.unjudged, fmt.Sprintf("%s: %s", k, gatewayOutcome(r)))
			}
		}
		res := t.result(fmt.Sprintf("%s refused with 401/403 before any environment", plural(t.judged, "broken token", "broken tokens")))
		if res.Status == reports.Pass && !control {
			res.Status = reports.Inconclusive
			res.Reason += ", but a valid token on the same path did not reach its tenant either, so the refusals may not be the authorizer's"
		}
		return res
	}
}

// evaluateAuthCache (TI-GW-004): tenants taking turns on one path, with results cached, each
// reached its own tenant.
func evaluateAuthCache(obs *runner.Observations) reports.CheckResult {
	g, skip := gatewayReady(obs)
	if skip != nil {
		return *skip
	}
	t := &gatewayTally{}
	tenants := map[string]bool{}
	for _, r := range requestsOf(g, runner.GatewayCache) {
		if r.Status != http.StatusOK || r.Reached == "" {
			t.unjudged = append(t.unjudged, r.Case+": "+gatewayOutcome(r))
			continue
		}
		t.judged++
		tenants[r.TokenTenant] = true
		if r.Reached != r.TokenTenant {
			t.fail(r, "tenant %s's request reached tenant %s: the authorizer's result for another tenant was served to it", r.TokenTenant, r.Reached)
		}
	}
	res := t.result(fmt.Sprintf("%d requests of %d tenants taking turns on one path each reached its own tenant", t.judged, len(tenants)))
	switch {
	case res.Status != reports.Pass:
	case len(tenants) < 2:
		res.Status = reports.Inconclusive
		res.Reason += ", but fewer than two tenants were served, so no result could be served to the wrong one"
	case !cacheUsed(requestsOf(g, runner.GatewayCache)):
		res.Status = reports.Inconclusive
		res.Reason += ", but no request reused an earlier decision of the authorizer (no cached result was served), so the cache was not tried"
	}
	return res
}

// cacheUsed reports whether some request of a tenant carried the authorizer decision of an
// earlier request of the same tenant: a result served from the cache.
func cacheUsed(reqs []runner.GatewayRequest) bool {
	seen := map[string]string{} // decision -> tenant
	for _, r := range reqs {
		if r.AuthID == "" {
			continue
		}
		if t, ok := seen[r.AuthID]; ok && t == r.TokenTenant {
			return true
		}
		seen[r.AuthID] = r.TokenTenant
	}
	return false
}

// evaluateNoisyNeighbour (TI-GW-005): judged on counts, never on latency. A violation seen is a
// FAIL: the quiet tenant throttled within its plan, or the noisy one admitted past its plan's
// allowance (burst + rate x duration, plus two for requests the bucket refilled for in flight).
func evaluateNoisyNeighbour(obs *runner.Observations) reports.CheckResult {
	g, skip := gatewayReady(obs)
	if skip != nil {
		return *skip
	}
	nn := g.Noisy
	if nn == nil {
		return reports.CheckResult{Status: reports.Error, Reason: "the noisy-neighbour case did not run" + errorsSuffix(g)}
	}
	allowed := float64(nn.Burst) + nn.Rate*nn.Duration.Seconds()
	ev := []reports.Evidence{
		{Message: "noisy tenant", Fields: loadFields(nn.Noisy)},
		{Message: "quiet tenant", Fields: loadFields(nn.Quiet)},
		{Message: "metered plan", Fields: map[string]string{"rate": fmt.Sprint(nn.Rate), "burst": strconv.Itoa(nn.Burst),
			"duration": nn.Duration.Round(time.Millisecond).String(), "allowed": fmt.Sprintf("%.1f", allowed)}},
	}
	var findings []string
	if float64(nn.Noisy.OK) > allowed+2 {
		findings = append(findings, fmt.Sprintf("the noisy tenant had %d of %d requests admitted in %s against a plan of %g/s (burst %d), about %.0f allowed, and %d throttled",
			nn.Noisy.OK, nn.Noisy.Sent, nn.Duration.Round(time.Millisecond), nn.Rate, nn.Burst, allowed, nn.Noisy.Throttled))
	}
	if nn.Quiet.Throttled > 0 {
		findings = append(findings, fmt.Sprintf("the quiet tenant, within its plan, had %d of %d requests throttled (429) beside the noisy one", nn.Quiet.Throttled, nn.Quiet.Sent))
	}
	switch {
	case len(findings) > 0:
		return reports.CheckResult{Status: reports.Fail, Reason: strings.Join(findings, "; "), Evidence: ev}
	case nn.Quiet.Other > 0 || nn.Noisy.Other > 0:
		return reports.CheckResult{Status: reports.Error, Evidence: ev,
			Reason: fmt.Sprintf("%d of the quiet tenant's and %d of the noisy tenant's answers were neither 200 nor 429 (%s), so the plans cannot be judged",
				nn.Quiet.Other, nn.Noisy.Other, strings.Join(append(nn.Quiet.Examples, nn.Noisy.Examples...), "; "))}
	case nn.Noisy.Throttled == 0 || nn.Quiet.OK == 0:
		return reports.CheckResult{Status: reports.Inconclusive, Evidence: ev,
			Reason: fmt.Sprintf("the case did not test the plans: the noisy tenant had %d requests throttled, the quiet one %d answered", nn.Noisy.Throttled, nn.Quiet.OK)}
	}
	return reports.CheckResult{Status: reports.Pass, Evidence: ev,
		Reason: fmt.Sprintf("the noisy tenant had %d of %d requests throttled (%d admitted, plan allows about %.0f); the quiet tenant had all %d answered beside it",
			nn.Noisy.Throttled, nn.Noisy.Sent, nn.Noisy.OK, allowed, nn.Quiet.Sent)}
}

// errorsSuffix is the phase's setup and cleanup errors, for an ERROR's reason.
func errorsSuffix(g *runner.GatewayObservations) string {
	if len(g.Errors) == 0 {
		return ""
	}
	return ": " + strings.Join(g.Errors, "; ")
}

func loadFields(l runner.LoadCounts) map[string]string {
	f := map[string]string{"tenant": l.Tenant, "sent": strconv.Itoa(l.Sent), "ok": strconv.Itoa(l.OK),
		"throttled": strconv.Itoa(l.Throttled), "other": strconv.Itoa(l.Other),
		"p50": l.P50.Round(10 * time.Microsecond).String(), "p99": l.P99.Round(10 * time.Microsecond).String()}
	if len(l.Examples) > 0 {
		f["examples"] = strings.Join(l.Examples, "; ")
	}
	return f
}
