package suites

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// AreaContract groups the checks of the API contract of tenant isolation: what the control
// plane and the Invoke API accept, refuse and echo, and how invocations of every kind route.
const AreaContract = "contract"

const (
	modePerTenant     = "PER_TENANT"
	codeInvalidParam  = "InvalidParameterValueException"
	codeTooManyReqs   = "TooManyRequestsException"
	codeValidation    = "ValidationException"
	functionURLRefuse = "Function URL is not supported for functions enabled with tenancy configuration"
	// maxContractTenant and contractTenantPattern restate INV-02 here rather than reuse the
	// runner's copy, so a slip in one is caught by the other.
	maxContractTenant = 256
)

var contractTenantPattern = regexp.MustCompile(`^[a-zA-Z0-9\._:\/=+\-@ ]+$`)

// validTenant is INV-02: 1 to 256 characters of the pattern.
func validTenant(t string) bool {
	return len(t) >= 1 && len(t) <= maxContractTenant && contractTenantPattern.MatchString(t)
}

func contractChecks() []Check {
	return []Check{
		{ID: "TI-API-001", Area: AreaContract, Level: reports.Must, Clauses: []string{"CP-02", "CP-03"}, Severity: "medium",
			Title: "TenancyConfig PER_TENANT is echoed by the operations that return a configuration",
			Remediation: "Return TenancyConfig {TenantIsolationMode: PER_TENANT} in every FunctionConfiguration of a " +
				"PER_TENANT function (CreateFunction, GetFunction, GetFunctionConfiguration, UpdateFunctionConfiguration, " +
				"PublishVersion) and in ListFunctions entries.",
			Evaluate: evaluateEcho},
		{ID: "TI-API-002", Area: AreaContract, Level: reports.Must, Clauses: []string{"CP-04"}, Severity: "high",
			Title:       "The isolation mode cannot be changed after creation",
			Remediation: "Ignore or reject any TenancyConfig in UpdateFunctionConfiguration; never change the mode set at creation.",
			Evaluate:    evaluateModeChange},
		{ID: "TI-API-003", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-05"}, Severity: "high",
			Title:       "A PER_TENANT function invoked without a tenant ID is refused with 400 InvalidParameterValueException",
			Remediation: "Refuse an invocation of a PER_TENANT function that carries no X-Amz-Tenant-Id, before it reaches an environment.",
			Evaluate: func(obs *runner.Observations) reports.CheckResult {
				return evaluateRefusal(obs, func(c *runner.ContractObservations) []runner.ContractCall { return c.MissingTenant },
					"invocation without a tenant ID")
			}},
		{ID: "TI-API-004", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-06"}, Severity: "medium",
			Title:       "An ordinary function invoked with a tenant ID is refused with 400 InvalidParameterValueException",
			Remediation: "Refuse X-Amz-Tenant-Id on functions created without TenancyConfig.",
			Evaluate: func(obs *runner.Observations) reports.CheckResult {
				return evaluateRefusal(obs, func(c *runner.ContractObservations) []runner.ContractCall { return c.UnexpectedTenant },
					"invocation of an ordinary function with a tenant ID")
			}},
		{ID: "TI-API-005", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-02", "INV-08"}, Severity: "medium",
			Title:       "Tenant IDs of 1 and 256 characters are accepted, 257 refused with 400 (INV-08)",
			Remediation: "Validate X-Amz-Tenant-Id: 1 to 256 characters; answer 400 (ValidationException) beyond.",
			Evaluate: func(obs *runner.Observations) reports.CheckResult {
				return evaluateTenantShape(obs, func(c *runner.ContractObservations) []runner.ContractCall { return c.TenantLength })
			}},
		{ID: "TI-API-006", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-02", "INV-08"}, Severity: "medium",
			Title:       "Tenant ID characters: ._:/=+-@ and inner spaces accepted, others refused with 400 (INV-08)",
			Remediation: "Validate X-Amz-Tenant-Id against [a-zA-Z0-9._:/=+\\-@ ]+ and answer 400 (ValidationException) otherwise.",
			Evaluate: func(obs *runner.Observations) reports.CheckResult {
				return evaluateTenantShape(obs, func(c *runner.ContractObservations) []runner.ContractCall { return c.TenantChars })
			}},
		{ID: "TI-API-007", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-04"}, Severity: "high",
			Title:       "Never-seen tenants work on their first invocation (no registration)",
			Remediation: "Create a tenant's first environment on demand; never require tenants to be registered.",
			Evaluate:    evaluateNewTenants},
		{ID: "TI-API-008", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-11"}, Severity: "critical",
			Title:       "Event invocations with a tenant ID run in that tenant's environments only",
			Remediation: "Route Event invocations through the same per-tenant pool key as synchronous ones.",
			Evaluate:    evaluateAsync},
		{ID: "TI-API-009", Area: AreaContract, Level: reports.Must, Clauses: []string{"ENV-08"}, Severity: "high",
			Title:       "A new tenant's first invocation is a cold start, even while other tenants' environments are idle",
			Remediation: "Never hand a new tenant an idle environment of another tenant; start a fresh one.",
			Evaluate:    evaluateColdStarts},
		{ID: "TI-API-010", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-12"}, Severity: "critical",
			Title:       "At the environment cap the target answers 429 TooManyRequestsException, never a shared environment",
			Remediation: "At the cap, reclaim idle environments or answer 429 TooManyRequestsException; never reuse another tenant's.",
			Evaluate:    evaluateCap},
		{ID: "TI-API-011", Area: AreaContract, Level: reports.Should, Clauses: []string{"CP-05"}, Severity: "low",
			Title:       "Function URLs, provisioned concurrency and SnapStart are refused for PER_TENANT functions",
			Remediation: "Refuse CreateFunctionUrlConfig, PutProvisionedConcurrencyConfig and SnapStart on PER_TENANT functions.",
			Evaluate:    evaluateUnsupported},
		{ID: "TI-API-012", Area: AreaContract, Level: reports.Must, Clauses: []string{"INV-01"}, Severity: "critical",
			Title:       "Streamed invocations and published versions route by tenant too",
			Remediation: "Key environments by (function, version, tenant) for every front door, InvokeWithResponseStream included.",
			Evaluate:    evaluateRouting},
	}
}

// contractOf returns the contract observations, or the SKIP result when the phase did not run.
func contractOf(obs *runner.Observations) (*runner.ContractObservations, *reports.CheckResult) {
	if obs.Contract == nil {
		return nil, &reports.CheckResult{Status: reports.Skip, Reason: "contract phase not run"}
	}
	if obs.Contract.NotRun != "" {
		return nil, &reports.CheckResult{Status: reports.Skip, Reason: "contract phase not run: " + obs.Contract.NotRun}
	}
	return obs.Contract, nil
}

// tally gathers a contract check's findings, the calls it could not judge, and caveats.
type tally struct {
	v        verifier
	unjudged []string // calls whose answer says nothing about the clause (throttle, 5xx, transport)
	notes    []string
	judged   int
}

// pushback reports whether a call's outcome is the target or network pushing back rather
// than an answer to the question asked: throttles, server errors, no answer at all.
func pushback(c runner.ContractCall) bool {
	return c.StatusCode == http.StatusTooManyRequests || c.StatusCode >= 500 || c.StatusCode == 0
}

func (t *tally) unjudge(c runner.ContractCall) {
	t.unjudged = append(t.unjudged, fmt.Sprintf("%s %s: %s", c.Op, c.Case, callOutcome(c)))
}

// fail records a finding about call c.
func (t *tally) fail(c runner.ContractCall, format string, args ...any) {
	t.v.errs = multierror.Append(t.v.errs, &finding{msg: fmt.Sprintf(format, args...), fields: callFields(c)})
}

// result turns the tally into a verdict: FAIL on findings, ERROR when nothing could be judged,
// otherwise PASS with what was judged.
func (t *tally) result(pass string) reports.CheckResult {
	if n := t.v.count(); n > 0 {
		return reports.CheckResult{
			Status:   reports.Fail,
			Reason:   withNotes(fmt.Sprintf("%s: %s", plural(n, "violation", "violations"), firstMessage(&t.v)), t.allNotes()),
			Evidence: t.v.evidence(),
		}
	}
	if t.judged == 0 {
		if len(t.unjudged) > 0 {
			return reports.CheckResult{Status: reports.Error, Reason: withNotes("no call could be judged", t.allNotes())}
		}
		return reports.CheckResult{Status: reports.Skip, Reason: withNotes("nothing to judge", t.notes)}
	}
	return reports.CheckResult{Status: reports.Pass, Reason: withNotes(pass, t.allNotes())}
}

func (t *tally) allNotes() []string {
	notes := append([]string(nil), t.notes...)
	if len(t.unjudged) > 0 {
		shown := t.unjudged[:min(3, len(t.unjudged))]
		notes = append(notes, fmt.Sprintf("%s not judged (%s)", plural(len(t.unjudged), "call", "calls"), strings.Join(shown, "; ")))
	}
	return notes
}

func firstMessage(v *verifier) string {
	ev := v.evidence()
	if len(ev) == 0 {
		return ""
	}
	return ev[0].Message
}

// callOutcome is a one-line summary of an answer, for reasons and evidence.
func callOutcome(c runner.ContractCall) string {
	switch {
	case c.StatusCode == 0 && c.Err != "":
		return "no answer: " + c.Err
	case c.ErrorCode != "":
		return fmt.Sprintf("%d %s", c.StatusCode, c.ErrorCode)
	case c.Err != "":
		return fmt.Sprintf("%d (%s)", c.StatusCode, c.Err)
	}
	return strconv.Itoa(c.StatusCode)
}

func callFields(c runner.ContractCall) map[string]string {
	f := map[string]string{
		"op": c.Op, "case": c.Case, "function": c.Function, "status": strconv.Itoa(c.StatusCode),
	}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("qualifier", c.Qualifier)
	if c.HasTenant {
		f["tenant"] = c.Tenant
		f["tenantLength"] = strconv.Itoa(len(c.Tenant))
	}
	set("errorCode", c.ErrorCode)
	set("message", c.Message)
	set("error", c.Err)
	set("body", c.Body)
	if c.HasTenancy {
		f["tenancy"] = c.Tenancy
	}
	if c.Report != nil {
		set("envId", c.Report.EnvID)
		set("requestId", c.Report.RequestID)
		set("contextTenant", c.Report.ContextTenant)
		f["cold"] = strconv.FormatBool(c.Report.Cold)
	}
	return f
}

// evaluateEcho (CP-02, CP-03 for ListFunctions): every configuration of a PER_TENANT function
// carries TenancyConfig PER_TENANT, and the ordinary function's never does.
func evaluateEcho(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	var listMissing []runner.ContractCall
	var ops []string
	for _, c := range co.Echo {
		switch {
		case notImplementedCall(c):
			t.notes = append(t.notes, c.Op+" not implemented by the target")
			continue
		case c.Op == "ListFunctions" && c.StatusCode >= 200 && c.StatusCode < 300 && c.Err != "":
			t.notes = append(t.notes, "ListFunctions not judged: "+c.Err)
			continue
		case pushback(c) || !c.OK():
			t.unjudge(c)
			continue
		}
		t.judged++
		ops = append(ops, c.Op)
		if c.Case == "ordinary" {
			if c.HasTenancy && c.Tenancy == modePerTenant {
				t.fail(c, "%s of the ordinary function %s reports TenancyConfig %s", c.Op, c.Function, c.Tenancy)
			}
			continue
		}
		if c.HasTenancy && c.Tenancy == modePerTenant {
			continue
		}
		if c.Op == "ListFunctions" {
			listMissing = append(listMissing, c)
			continue
		}
		t.fail(c, "%s of %s echoed %s, want TenancyConfig %s", c.Op, c.Function, echoed(c), modePerTenant)
	}
	res := t.result(fmt.Sprintf("TenancyConfig %s echoed by %s", modePerTenant, strings.Join(dedupe(ops), ", ")))
	if res.Status == reports.Pass && len(listMissing) > 0 {
		c := listMissing[0]
		return reports.CheckResult{
			Status: reports.Warn,
			Reason: withNotes(fmt.Sprintf("ListFunctions entry of %s carries %s; CP-03 (SHOULD) expects TenancyConfig there too, "+
				"though the API promises only a subset of fields", c.Function, echoed(c)), t.allNotes()),
			Evidence: []reports.Evidence{{Message: "ListFunctions entry without TenancyConfig " + modePerTenant, Fields: callFields(c)}},
		}
	}
	return res
}

func echoed(c runner.ContractCall) string {
	if !c.HasTenancy {
		return "no TenancyConfig"
	}
	return fmt.Sprintf("TenancyConfig %q", c.Tenancy)
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// notImplementedCall recognises a target that lacks an operation altogether (not a refusal).
func notImplementedCall(c runner.ContractCall) bool {
	return c.ErrorCode == "UnknownOperationException" || c.StatusCode == http.StatusNotImplemented ||
		(c.StatusCode == http.StatusNotFound && c.ErrorCode != "ResourceNotFoundException")
}

// evaluateModeChange (CP-04): each update carrying TenancyConfig is ignored or refused, and the
// mode read back afterwards is still PER_TENANT.
func evaluateModeChange(obs *runner.Observations) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	refused, ignored := 0, 0
	for _, c := range co.ModeChange {
		switch c.Op {
		case "UpdateFunctionConfiguration":
			switch {
			case c.OK():
				ignored++
				if c.HasTenancy && c.Tenancy != modePerTenant {
					t.fail(c, "UpdateFunctionConfiguration with body %s answered with TenancyConfig %q", c.Body, c.Tenancy)
				}
			case c.StatusCode >= 400 && c.StatusCode < 500 && c.StatusCode != http.StatusTooManyRequests:
				refused++
			default:
				t.notes = append(t.notes, fmt.Sprintf("update %s answered %s", c.Case, callOutcome(c)))
			}
		case "GetFunctionConfiguration":
			if !c.OK() {
				t.unjudge(c)
				continue
			}
			t.judged++
			if !c.HasTenancy || c.Tenancy != modePerTenant {
				t.fail(c, "after an update carrying %s the function reports %s, want %s",
					bodyOf(co.ModeChange, c.Case), echoed(c), modePerTenant)
			}
		}
	}
	return t.result(fmt.Sprintf("mode stayed %s after %s (%d refused, %d accepted and ignored)",
		modePerTenant, plural(t.judged, "update carrying TenancyConfig", "updates carrying TenancyConfig"), refused, ignored))
}

func bodyOf(calls []runner.ContractCall, label string) string {
	for _, c := range calls {
		if c.Case == label && c.Body != "" {
			return c.Body
		}
	}
	return label
}

// evaluateRefusal (INV-05, INV-06): every call must be answered 400 InvalidParameterValueException.
func evaluateRefusal(obs *runner.Observations, pick func(*runner.ContractObservations) []runner.ContractCall, what string) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	for _, c := range pick(co) {
		if pushback(c) {
			t.unjudge(c)
			continue
		}
		t.judged++
		if c.StatusCode != http.StatusBadRequest || c.ErrorCode != codeInvalidParam {
			t.fail(c, "%s (%s %s) answered %s, want 400 %s", what, c.Op, c.Case, callOutcome(c), codeInvalidParam)
		}
	}
	return t.result(fmt.Sprintf("%s refused with 400 %s", plural(t.judged, "call", "calls")+" ("+what+")", codeInvalidParam))
}

// evaluateTenantShape (INV-02, INV-08): valid IDs accepted, invalid ones answered 400. The
// expectation comes from the ID itself, so the check does not trust the runner's labels.
func evaluateTenantShape(obs *runner.Observations, pick func(*runner.ContractObservations) []runner.ContractCall) reports.CheckResult {
	co, skip := contractOf(obs)
	if skip != nil {
		return *skip
	}
	var t tally
	accepted, refused := 0, 0
	var codes []string
	for _, c := range pick(co) {
		if pushback(c) {
			t.unjudge(c)
			continue
		}
		t.judged++
		ok := c.StatusCode >= 200 && c.StatusCode < 300
		if validTenant(c.Tenant) {
			accepted++
			if !ok {
				t.fail(c, "valid tenant ID (%s, %d characters) refused: %s", c.Case, len(c.Tenant), callOutcome(c))
			}
			continue
		}
		refused++
		if c.StatusCode != http.StatusBadRequest {
			t.fail(c, "invalid tenant ID (%s, %d characters) answered %s, want 400", c.Case, len(c.Tenant), callOutcome(c))
			continue
		}
		if c.ErrorCode != codeValidation && !contains(codes, c.ErrorCode) {
			codes = append(codes, c.ErrorCode)
		}
	}
	if len(codes) > 0 {
		t.notes = append(t.notes, fmt.Sprintf("refusals used %s rather than the likely %s (INV-08: code unverified, not judged)",
			strings.Join(codes, ", "), codeValidation))
	}
	return t.result(fmt.Sprintf("%s accepted, %s refused with 400",
		plural(accepted, "valid tenant ID", "valid tenant IDs"), plural(refused, "invalid one", "invalid ones")))
}
