package suites

import (
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// healthyContract is a hand-made contract phase of a target that gets every line right.
func healthyContract() *runner.ContractObservations {
	pt, ord := "fn-pt", "fn-ord"
	env := 0
	served := func(label, tenant string, cold bool, envID string) runner.ContractCall {
		if envID == "" {
			env++
			envID = "env-" + string(rune('a'+env))
		}
		return runner.ContractCall{Op: "Invoke", Case: label, Function: pt, Tenant: tenant, HasTenant: true, StatusCode: 200,
			Report: &probes.Report{EnvID: envID, ContextTenant: tenant, Cold: cold, Invocations: 1}}
	}
	refused := func(label, fn, tenant string, has bool, status int, code string) runner.ContractCall {
		return runner.ContractCall{Op: "Invoke", Case: label, Function: fn, Tenant: tenant, HasTenant: has, StatusCode: status, ErrorCode: code}
	}
	echo := func(op, label, fn string, mode string) runner.ContractCall {
		return runner.ContractCall{Op: op, Case: label, Function: fn, StatusCode: 200, HasTenancy: mode != "", Tenancy: mode}
	}
	co := &runner.ContractObservations{Function: pt, Ordinary: ord, Version: "1", AsyncReports: true, Cap: 2, CapExtra: 2}
	co.Echo = []runner.ContractCall{
		echo("CreateFunction", "pt", pt, "PER_TENANT"), echo("GetFunction", "pt", pt, "PER_TENANT"),
		echo("GetFunctionConfiguration", "pt", pt, "PER_TENANT"), echo("GetFunctionConfiguration", "ordinary", ord, ""),
		echo("ListFunctions", "pt", pt, "PER_TENANT"), echo("UpdateFunctionConfiguration", "pt", pt, "PER_TENANT"),
		echo("PublishVersion", "pt", pt, "PER_TENANT"),
	}
	for _, b := range []struct{ label, body string }{{"empty", `{"TenancyConfig":{}}`}, {"null", `{"TenancyConfig":null}`}} {
		co.ModeChange = append(co.ModeChange,
			runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: b.label, Function: pt, Body: b.body, StatusCode: 200, HasTenancy: true, Tenancy: "PER_TENANT"},
			echo("GetFunctionConfiguration", b.label, pt, "PER_TENANT"))
	}
	co.ModeChange = append(co.ModeChange,
		runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: "unknown-mode", Function: pt, Body: `{"TenancyConfig":{"TenantIsolationMode":"SHARED"}}`,
			StatusCode: 400, ErrorCode: "ValidationException"},
		echo("GetFunctionConfiguration", "unknown-mode", pt, "PER_TENANT"))
	co.MissingTenant = []runner.ContractCall{refused("no-tenant", pt, "", false, 400, codeInvalidParam)}
	co.UnexpectedTenant = []runner.ContractCall{refused("tenant", ord, "t-ord", true, 400, codeInvalidParam)}
	long := strings.Repeat("x", 256)
	co.TenantLength = []runner.ContractCall{
		served("len-1", "x", true, ""), served("len-256", long, true, ""),
		refused("len-257", pt, long+"y", true, 400, codeValidation),
	}
	co.TenantChars = []runner.ContractCall{
		served("accept:@", "t@x", true, ""), served("accept:inner-space", "t x", true, ""),
		refused("reject:#", pt, "t#x", true, 400, codeValidation), refused("reject:é", pt, "té", true, 400, codeValidation),
	}
	co.NewTenants = []runner.ContractCall{served("first", "n1", true, ""), served("first", "n2", true, "")}
	co.ColdStarts = []runner.ContractCall{
		served("warm-up", "w1", true, "env-w1"), served("warm-up", "w1", false, "env-w1"),
		served("new", "c1", true, ""), served("new", "c2", true, ""),
	}
	asyncCall := func(tenant, envID string) runner.ContractCall {
		c := served("event", tenant, false, envID)
		c.Async, c.StatusCode = true, 202
		return c
	}
	co.Async = []runner.ContractCall{served("sync", "a1", true, "env-a1"), asyncCall("a1", "env-a1"), asyncCall("a2", "env-a2")}
	co.CapCalls = []runner.ContractCall{
		served("held", "k1", true, ""), served("held", "k2", true, ""),
		refused("held", pt, "k3", true, 429, codeTooManyReqs), refused("held", pt, "k4", true, 429, codeTooManyReqs),
	}
	co.Unsupported = []runner.ContractCall{
		{Op: "CreateFunctionUrlConfig", Case: "function-url", Function: pt, StatusCode: 400, ErrorCode: codeInvalidParam,
			Message: functionURLRefuse + "."},
		{Op: "PutProvisionedConcurrencyConfig", Case: "provisioned-concurrency", Function: pt, StatusCode: 400, ErrorCode: codeInvalidParam},
		{Op: "UpdateFunctionConfiguration", Case: "snapstart", Function: pt, StatusCode: 400, ErrorCode: codeInvalidParam},
	}
	stream := func(tenant, envID string) runner.ContractCall {
		c := served("stream", tenant, false, envID)
		c.Op, c.Stream = "InvokeWithResponseStream", true
		return c
	}
	version := func(tenant, envID string) runner.ContractCall {
		c := served("version", tenant, false, envID)
		c.Qualifier = "1"
		return c
	}
	co.Routing = []runner.ContractCall{
		stream("s1", "env-s1"), stream("s2", "env-s2"), stream("s1", "env-s1"),
		version("q1", "env-q1"), version("q2", "env-q2"), version("q1", "env-q1"),
	}
	return co
}

// evalContract evaluates one contract check by ID.
func evalContract(t *testing.T, id string, co *runner.ContractObservations) reports.CheckResult {
	t.Helper()
	for _, c := range contractChecks() {
		if c.ID == id {
			return Evaluate([]Check{c}, &runner.Observations{Contract: co})[0]
		}
	}
	t.Fatalf("no check %s", id)
	return reports.CheckResult{}
}

func TestContractChecksPassOnHealthyTarget(t *testing.T) {
	for _, c := range contractChecks() {
		res := evalContract(t, c.ID, healthyContract())
		if res.Status != reports.Pass {
			t.Errorf("%s: %s (%s) %v", c.ID, res.Status, res.Reason, res.Evidence)
		}
	}
}

func TestContractChecksSkipWithoutPhase(t *testing.T) {
	for _, tt := range []struct {
		name string
		obs  *runner.Observations
		want string
	}{
		{"no phase", &runner.Observations{}, "contract phase not run"},
		{"phase could not run", &runner.Observations{Contract: runner.SkippedContract("needs --role")}, "contract phase not run: needs --role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range Evaluate(contractChecks(), tt.obs) {
				if r.Status != reports.Skip || r.Reason != tt.want {
					t.Errorf("%s: %s %q, want SKIP %q", r.ID, r.Status, r.Reason, tt.want)
				}
			}
		})
	}
}

// TestContractCheckRegistry: every check cites an existing clause of its area and is in All().
func TestContractCheckRegistry(t *testing.T) {
	all := map[string]bool{}
	for _, c := range All() {
		all[c.ID] = true
	}
	for _, c := range contractChecks() {
		if c.Area != AreaContract || c.PrimaryClause() == "" || c.Evaluate == nil || !all[c.ID] {
			t.Errorf("%s: area %q clause %q evaluate %v in All() %v", c.ID, c.Area, c.PrimaryClause(), c.Evaluate != nil, all[c.ID])
		}
		if (c.ID == "TI-API-011") != (c.Level == reports.Should) {
			t.Errorf("%s: level %s", c.ID, c.Level)
		}
	}
}

func TestContractCheckStatuses(t *testing.T) {
	tests := []struct {
		id     string
		name   string
		mutate func(co *runner.ContractObservations)
		want   reports.Status
		reason string
	}{
		{"TI-API-001", "GetFunctionConfiguration without TenancyConfig", func(co *runner.ContractObservations) {
			co.Echo[2].HasTenancy, co.Echo[2].Tenancy = false, ""
		}, reports.Fail, "GetFunctionConfiguration of fn-pt echoed no TenancyConfig"},
		{"TI-API-001", "ordinary function claims PER_TENANT", func(co *runner.ContractObservations) {
			co.Echo[3].HasTenancy, co.Echo[3].Tenancy = true, "PER_TENANT"
		}, reports.Fail, "ordinary function"},
		{"TI-API-001", "ListFunctions subset only warns", func(co *runner.ContractObservations) {
			co.Echo[4].HasTenancy, co.Echo[4].Tenancy = false, ""
		}, reports.Warn, "CP-03"},
		{"TI-API-001", "PublishVersion not implemented is noted, not failed", func(co *runner.ContractObservations) {
			co.Echo[6] = runner.ContractCall{Op: "PublishVersion", Case: "pt", StatusCode: 404, ErrorCode: "UnknownOperationException"}
		}, reports.Pass, "PublishVersion not implemented"},
		{"TI-API-001", "all reads throttled", func(co *runner.ContractObservations) {
			for i := range co.Echo {
				co.Echo[i].StatusCode, co.Echo[i].ErrorCode = 429, codeTooManyReqs
			}
		}, reports.Error, "no call could be judged"},

		{"TI-API-002", "mode cleared by an empty TenancyConfig", func(co *runner.ContractObservations) {
			co.ModeChange[1].HasTenancy, co.ModeChange[1].Tenancy = false, ""
		}, reports.Fail, `after an update carrying {"TenancyConfig":{}}`},
		{"TI-API-002", "update echoes the new mode", func(co *runner.ContractObservations) {
			co.ModeChange[0].Tenancy = "SHARED"
		}, reports.Fail, "answered with TenancyConfig"},

		{"TI-API-003", "accepted without tenant", func(co *runner.ContractObservations) {
			co.MissingTenant[0] = runner.ContractCall{Op: "Invoke", Case: "no-tenant", StatusCode: 200}
		}, reports.Fail, "want 400 InvalidParameterValueException"},
		{"TI-API-003", "400 with another code", func(co *runner.ContractObservations) {
			co.MissingTenant[0].ErrorCode = codeValidation
		}, reports.Fail, "400 ValidationException"},
		{"TI-API-003", "only a 500 is no verdict", func(co *runner.ContractObservations) {
			co.MissingTenant[0].StatusCode, co.MissingTenant[0].ErrorCode = 500, "ServiceException"
		}, reports.Error, "no call could be judged"},
		{"TI-API-004", "ordinary function accepts a tenant", func(co *runner.ContractObservations) {
			co.UnexpectedTenant[0].StatusCode, co.UnexpectedTenant[0].ErrorCode = 200, ""
		}, reports.Fail, "ordinary function with a tenant ID"},

		{"TI-API-005", "257 characters accepted", func(co *runner.ContractObservations) {
			co.TenantLength[2].StatusCode, co.TenantLength[2].ErrorCode = 200, ""
		}, reports.Fail, "invalid tenant ID (len-257, 257 characters) answered 200"},
		{"TI-API-005", "256 characters refused", func(co *runner.ContractObservations) {
			co.TenantLength[1].StatusCode, co.TenantLength[1].ErrorCode = 400, codeValidation
		}, reports.Fail, "valid tenant ID (len-256, 256 characters) refused"},
		{"TI-API-005", "refusal code is noted, not judged", func(co *runner.ContractObservations) {
			co.TenantLength[2].ErrorCode = codeInvalidParam
		}, reports.Pass, "code unverified"},
		{"TI-API-006", "non-ASCII accepted", func(co *runner.ContractObservations) {
			co.TenantChars[3].StatusCode, co.TenantChars[3].ErrorCode = 200, ""
		}, reports.Fail, "reject:é"},
		{"TI-API-006", "inner space refused", func(co *runner.ContractObservations) {
			co.TenantChars[1].StatusCode = 400
		}, reports.Fail, "accept:inner-space"},

		{"TI-API-007", "first invocation refused", func(co *runner.ContractObservations) {
			co.NewTenants[1] = runner.ContractCall{Op: "Invoke", Tenant: "n2", HasTenant: true, StatusCode: 404, ErrorCode: "ResourceNotFoundException"}
		}, reports.Fail, `never-seen tenant "n2"`},

		{"TI-API-008", "Event shares the sync tenant's environment", func(co *runner.ContractObservations) {
			co.Async[2].Report.EnvID = "env-a1"
		}, reports.Fail, `ran in environment env-a1, which also served "a2"`},
		{"TI-API-008", "Event handed an environment another part of the phase used", func(co *runner.ContractObservations) {
			co.Async[2].Report.EnvID = "env-w1"
		}, reports.Fail, `Event invocation for tenant "a2" ran in environment env-w1, which also served "w1"`},
		{"TI-API-008", "the ordinary function's shared environment is not blamed", func(co *runner.ContractObservations) {
			co.TenantChars = append(co.TenantChars, runner.ContractCall{Op: "Invoke", Function: "fn-ord", Tenant: "x",
				HasTenant: true, StatusCode: 200, Report: &probes.Report{EnvID: "env-a2", ContextTenant: "x"}})
		}, reports.Pass, "Event invocations ran in their own tenant's environments"},
		{"TI-API-008", "Event handler sees no tenant", func(co *runner.ContractObservations) {
			co.Async[2].Report.ContextTenant = ""
		}, reports.Fail, `the handler saw tenant ""`},
		{"TI-API-008", "no sink", func(co *runner.ContractObservations) {
			co.Async, co.Skipped = nil, map[string]string{runner.ContractPartAsync: "no report sink"}
		}, reports.Skip, "no report sink"},
		{"TI-API-008", "reports lost", func(co *runner.ContractObservations) {
			for i := range co.Async {
				co.Async[i].Report, co.Async[i].Err = nil, "async report not received"
			}
		}, reports.Error, "no call could be judged"},

		{"TI-API-009", "new tenant handed an idle environment", func(co *runner.ContractObservations) {
			co.ColdStarts[3].Report.EnvID, co.ColdStarts[3].Report.Cold = "env-w1", false
		}, reports.Fail, `new tenant "c2" got environment env-w1, which also served "w1"`},
		{"TI-API-009", "new tenant warm in an unseen environment", func(co *runner.ContractObservations) {
			co.ColdStarts[2].Report.Cold = false
		}, reports.Fail, "not a cold start"},
		{"TI-API-009", "no reuse observed", func(co *runner.ContractObservations) {
			co.ColdStarts[1].Report.Cold, co.ColdStarts[1].Report.EnvID = true, "env-w1b"
		}, reports.Inconclusive, "no warm-up tenant's environment was reused"},

		{"TI-API-010", "environment shared at the cap", func(co *runner.ContractObservations) {
			co.CapCalls[2] = runner.ContractCall{Op: "Invoke", Tenant: "k3", HasTenant: true, StatusCode: 200,
				Report: &probes.Report{EnvID: co.CapCalls[0].Report.EnvID, ContextTenant: "k3"}}
		}, reports.Fail, `served by environment`},
		{"TI-API-010", "500 instead of 429", func(co *runner.ContractObservations) {
			co.CapCalls[2].StatusCode, co.CapCalls[2].ErrorCode = 500, "ServiceException"
		}, reports.Fail, "want 429 TooManyRequestsException"},
		{"TI-API-010", "cap not reached", func(co *runner.ContractObservations) {
			co.CapCalls = co.CapCalls[:2]
		}, reports.Skip, "cap not reached"},
		{"TI-API-010", "cap unknown", func(co *runner.ContractObservations) {
			co.Cap, co.CapCalls, co.Skipped = 0, nil, map[string]string{runner.ContractPartCap: "environment cap unknown"}
		}, reports.Skip, "environment cap unknown"},

		{"TI-API-011", "function URL granted warns", func(co *runner.ContractObservations) {
			co.Unsupported[0].StatusCode, co.Unsupported[0].ErrorCode, co.Unsupported[0].Message = 201, "", ""
		}, reports.Warn, "function-url (CreateFunctionUrlConfig) granted"},
		{"TI-API-011", "function URL refused with other wording warns", func(co *runner.ContractObservations) {
			co.Unsupported[0].Message = "nope"
		}, reports.Warn, "CP-05 quotes"},
		{"TI-API-011", "SnapStart enabled warns", func(co *runner.ContractObservations) {
			co.Unsupported[2] = runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: "snapstart", StatusCode: 200, SnapStart: "PublishedVersions"}
		}, reports.Warn, "snapstart"},
		{"TI-API-011", "features not implemented skip", func(co *runner.ContractObservations) {
			for i := range co.Unsupported {
				co.Unsupported[i].StatusCode, co.Unsupported[i].ErrorCode = 404, "UnknownOperationException"
			}
		}, reports.Skip, "function-url not implemented by the target"},
		{"TI-API-011", "SnapStart silently ignored is skipped, the rest judged", func(co *runner.ContractObservations) {
			co.Unsupported[2] = runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: "snapstart", StatusCode: 200}
		}, reports.Pass, "snapstart not implemented"},
		// provided.al2023 on AWS: no SnapStart for any function, so the refusal is the runtime's.
		{"TI-API-011", "SnapStart refused for the ordinary function in the same words is not judged", func(co *runner.ContractObservations) {
			co.Unsupported[2].Message = "provided.al2023 does not support SnapStart."
			co.Unsupported = append(co.Unsupported, runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: caseSnapStartControl,
				Function: "ord", StatusCode: 400, ErrorCode: codeInvalidParam, Message: "provided.al2023 does not support SnapStart."})
		}, reports.Pass, "the refusal says nothing about tenancy"},
		{"TI-API-011", "SnapStart refused for tenancy, for the runtime on the ordinary function: judged", func(co *runner.ContractObservations) {
			co.Unsupported[2].Message = "SnapStart is not supported for functions with tenant isolation mode."
			co.Unsupported = append(co.Unsupported, runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: caseSnapStartControl,
				Function: "ord", StatusCode: 400, ErrorCode: codeInvalidParam, Message: "provided.al2023 does not support SnapStart."})
		}, reports.Pass, "refused: function-url (400 InvalidParameterValueException), provisioned-concurrency (400 InvalidParameterValueException), snapstart (400"},
		{"TI-API-011", "SnapStart and its control both throttled: not judged, never called the runtime's", func(co *runner.ContractObservations) {
			co.Unsupported = co.Unsupported[2:]
			co.Unsupported[0].StatusCode, co.Unsupported[0].ErrorCode, co.Unsupported[0].Message = 429, codeTooManyReqs, "Rate exceeded"
			co.Unsupported = append(co.Unsupported, runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: caseSnapStartControl,
				Function: "ord", StatusCode: 429, ErrorCode: codeTooManyReqs, Message: "Rate exceeded"})
		}, reports.Error, "snapstart"},
		{"TI-API-011", "the control never counts as a feature granted", func(co *runner.ContractObservations) {
			co.Unsupported = append(co.Unsupported, runner.ContractCall{Op: "UpdateFunctionConfiguration", Case: caseSnapStartControl,
				Function: "ord", StatusCode: 200, SnapStart: "PublishedVersions"})
		}, reports.Pass, "snapstart (400"},

		{"TI-API-012", "stream ignores the tenant", func(co *runner.ContractObservations) {
			co.Routing[1].Report.EnvID = "env-s1"
		}, reports.Fail, "streamed invocation"},
		{"TI-API-012", "version ignores the tenant", func(co *runner.ContractObservations) {
			co.Routing[4].Report.EnvID = "env-q1"
		}, reports.Fail, "invocation of version 1"},
		{"TI-API-012", "stream not implemented, version still judged", func(co *runner.ContractObservations) {
			co.Routing = co.Routing[3:]
			co.Routing = append([]runner.ContractCall{{Op: "InvokeWithResponseStream", Case: "stream", Stream: true, StatusCode: 404,
				ErrorCode: "UnknownOperationException"}}, co.Routing...)
			co.Skipped = map[string]string{runner.ContractPartStream: "InvokeWithResponseStream is not implemented"}
		}, reports.Pass, "stream not judged"},
		{"TI-API-012", "neither part", func(co *runner.ContractObservations) {
			co.Routing = nil
			co.Skipped = map[string]string{runner.ContractPartStream: "no stream", runner.ContractPartVersion: "no version"}
		}, reports.Skip, "no streamed or versioned invocation"},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.name, func(t *testing.T) {
			co := healthyContract()
			tt.mutate(co)
			res := evalContract(t, tt.id, co)
			if res.Status != tt.want || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("%s %q, want %s containing %q; evidence %v", res.Status, res.Reason, tt.want, tt.reason, res.Evidence)
			}
			if res.Status == reports.Fail || res.Status == reports.Warn {
				if len(res.Evidence) == 0 || res.Evidence[0].Fields["op"] == "" {
					t.Fatalf("%s without structured evidence: %v", res.Status, res.Evidence)
				}
			}
		})
	}
}
