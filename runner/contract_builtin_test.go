package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestRunContractRecordsBuiltinFacts runs the phase against the correct built-in target and
// checks the raw facts it records (judging them is the suites' job, tested there).
func TestRunContractRecordsBuiltinFacts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of environments")
	}
	co := runContract(t)
	if co.Function == "" || co.Ordinary == "" || co.Version == "" {
		t.Fatalf("functions not recorded: %+v", co)
	}
	if len(co.Errors) > 0 {
		t.Errorf("setup/cleanup errors: %v", co.Errors)
	}

	echoOps := map[string]string{}
	for _, c := range co.Echo {
		if c.Case == "pt" && c.HasTenancy {
			echoOps[c.Op] = c.Tenancy
		}
	}
	for _, op := range []string{"CreateFunction", "GetFunction", "GetFunctionConfiguration", "ListFunctions", "UpdateFunctionConfiguration", "PublishVersion"} {
		if echoOps[op] != "PER_TENANT" {
			t.Errorf("%s echo = %q, want PER_TENANT; echo calls:%s", op, echoOps[op], calls(co.Echo))
		}
	}

	refusals := append(append([]runner.ContractCall(nil), co.MissingTenant...), co.UnexpectedTenant...)
	for _, c := range refusals {
		if c.StatusCode != http.StatusBadRequest || c.ErrorCode != "InvalidParameterValueException" {
			t.Errorf("%s %s answered %d %s, want 400 InvalidParameterValueException", c.Op, c.Case, c.StatusCode, c.ErrorCode)
		}
	}

	wantLength := map[string]int{"len-1": 200, "len-256": 200, "len-257": 400}
	for _, c := range co.TenantLength {
		if c.StatusCode != wantLength[c.Case] {
			t.Errorf("%s (%d characters) answered %d, want %d", c.Case, len(c.Tenant), c.StatusCode, wantLength[c.Case])
		}
	}
	if len(co.TenantLength) != len(wantLength) {
		t.Errorf("tenant length calls:%s", calls(co.TenantLength))
	}
	accepted, refused := 0, 0
	for _, c := range co.TenantChars {
		switch c.StatusCode {
		case http.StatusOK:
			accepted++
		case http.StatusBadRequest:
			refused++
		default:
			t.Errorf("%s answered %d", c.Case, c.StatusCode)
		}
	}
	if accepted != 9 || refused != 10 {
		t.Errorf("tenant characters: %d accepted, %d refused, want 9 and 10:%s", accepted, refused, calls(co.TenantChars))
	}

	for name, list := range map[string][]runner.ContractCall{"new tenants": co.NewTenants, "cold starts": co.ColdStarts, "async": co.Async, "routing": co.Routing} {
		for _, c := range list {
			if c.Report == nil || c.Report.ContextTenant != c.Tenant {
				t.Errorf("%s: %s %s for %q has no matching report (err %q)", name, c.Op, c.Case, c.Tenant, c.Err)
			}
		}
	}
	if len(co.Async) != 5 || !co.Async[1].Async || co.Async[1].StatusCode != http.StatusAccepted {
		t.Errorf("async calls:%s", calls(co.Async))
	}

	throttled, served := 0, 0
	for _, c := range co.CapCalls {
		switch {
		case c.StatusCode == http.StatusTooManyRequests && c.ErrorCode == "TooManyRequestsException":
			throttled++
		case c.Report != nil:
			served++
		}
	}
	if throttled == 0 || served == 0 || throttled+served != testCap+3 {
		t.Errorf("cap probe: %d throttled, %d served of %d:%s", throttled, served, len(co.CapCalls), calls(co.CapCalls))
	}

	for _, c := range co.ModeChange {
		if c.Op == "GetFunctionConfiguration" && (!c.HasTenancy || c.Tenancy != "PER_TENANT") {
			t.Errorf("after update %s the mode is %q", c.Case, c.Tenancy)
		}
	}
	if len(co.ModeChange) != 6 {
		t.Errorf("mode change calls:%s", calls(co.ModeChange))
	}
	// function URL, provisioned concurrency, SnapStart, and SnapStart asked of the ordinary
	// function as a control after the PER_TENANT one was refused. The built-in target refuses
	// the first for tenancy and the control for the runtime, so the two refusals differ.
	if len(co.Unsupported) != 4 {
		t.Fatalf("unsupported calls:%s", calls(co.Unsupported))
	}
	if ss, ctl := co.Unsupported[2], co.Unsupported[3]; ss.Case != "snapstart" || ctl.Case != "snapstart-control" ||
		ctl.Function != co.Ordinary || ctl.StatusCode != http.StatusBadRequest || ctl.Message == ss.Message {
		t.Errorf("SnapStart and its control:%s", calls(co.Unsupported[2:]))
	}
}

// TestRunContractCleansUpOnFailure: a phase cut short by its context still deletes what it made.
func TestRunContractCleansUpOnFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts environments")
	}
	_, c := builtin(t, emulator.Config{MaxEnvironments: testCap})
	for _, after := range []time.Duration{0, 300 * time.Millisecond, 2 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		co, err := runner.RunContract(ctx, c, contractOpts(t, testCap))
		cancel()
		if err == nil {
			t.Errorf("cut after %s: no error", after)
		}
		if co == nil {
			t.Fatalf("cut after %s: no partial observations", after)
		}
		if assertNothingLeft(t, c) {
			t.Logf("cut after %s: the phase's own errors: %q", after, co.Errors)
		}
	}
}

// TestRunContractSkipsWhatItCannotReach: without a sink or a cap the phase says why it skipped.
func TestRunContractSkipsWhatItCannotReach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts environments")
	}
	_, c := builtin(t, emulator.Config{})
	opts := contractOpts(t, 0)
	opts.ReportSink = false
	co, err := runner.RunContract(context.Background(), c, opts)
	if err != nil {
		t.Fatalf("RunContract: %v", err)
	}
	for _, part := range []string{runner.ContractPartAsync, runner.ContractPartCap} {
		if co.Skipped[part] == "" {
			t.Errorf("part %s not marked skipped: %v", part, co.Skipped)
		}
	}
	if len(co.CapCalls) != 0 || len(co.Async) != 0 {
		t.Errorf("skipped parts made calls: cap %d, async %d", len(co.CapCalls), len(co.Async))
	}
	_, err = c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(co.Function)})
	if err == nil {
		t.Errorf("function %s still exists", co.Function)
	}
}

// createRecorder keeps the body of every CreateFunction request a client sends.
type createRecorder struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	mu    sync.Mutex
	posts []map[string]any
}

func (r *createRecorder) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.TrimSuffix(req.URL.Path, "/") == "/2015-03-31/functions" && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.posts = append(r.posts, m)
		r.mu.Unlock()
	}
	return r.next.Do(req)
}

// TestRunContractFunctionsFollowTheStack: the functions the phase creates carry what a deployed
// stack needs of them: the zip's architecture (AWS defaults to x86_64, which cannot start an
// arm64 zip), the stack's tags (so a sweep finds one a crash left), and the stack's log group
// (the only one its execution role may write).
func TestRunContractFunctionsFollowTheStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts environments")
	}
	_, c := builtin(t, emulator.Config{})
	rec := &createRecorder{}
	c = lambda.New(c.Options(), func(o *lambda.Options) { rec.next = o.HTTPClient; o.HTTPClient = rec })
	arch := probefn.LambdaArch(runtime.GOARCH)
	opts := contractOpts(t, 0)
	opts.Arch, opts.LogGroup = arch, "/aws/lambda/tenantcheck-20260101-d0d0d0d0d0d0-probe"
	opts.Tags = map[string]string{"tenantcheck:run-id": "20260101-d0d0d0d0d0d0"}
	co, err := runner.RunContract(context.Background(), c, opts)
	if err != nil {
		t.Fatalf("RunContract: %v", err)
	}
	if len(rec.posts) != 2 {
		t.Fatalf("%d CreateFunction calls, want 2 (PER_TENANT and ordinary)", len(rec.posts))
	}
	for _, p := range rec.posts {
		name := p["FunctionName"]
		if got := fmt.Sprint(p["Architectures"]); got != "["+arch+"]" {
			t.Errorf("%s: Architectures %s, want [%s]", name, got, arch)
		}
		if tags, _ := p["Tags"].(map[string]any); tags["tenantcheck:run-id"] != "20260101-d0d0d0d0d0d0" || tags["tenantcheck-run"] == nil {
			t.Errorf("%s: tags %v lack the stack's run-id tag or the phase's own", name, p["Tags"])
		}
		if lc, _ := p["LoggingConfig"].(map[string]any); lc["LogGroup"] != opts.LogGroup || lc["LogFormat"] != "JSON" {
			t.Errorf("%s: LoggingConfig %v, want LogFormat JSON and LogGroup %s", name, p["LoggingConfig"], opts.LogGroup)
		}
	}
	if len(co.Errors) != 0 {
		t.Errorf("phase errors: %v", co.Errors)
	}
}
