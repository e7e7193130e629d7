package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tenantcheck/tenantcheck/probes"
)

// deploy creates one function of the phase, with extra tags besides the run's, records the
// CreateFunction answer as an echo of a PER_TENANT function, and waits until it is Active.
func (r *contractRun) deploy(ctx context.Context, perTenant bool, label string, extra map[string]string) (string, error) {
	return r.deployWith(ctx, perTenant, label, extra, nil)
}

// deployWith is deploy with environment variables for the function.
func (r *contractRun) deployWith(ctx context.Context, perTenant bool, label string, extra, env map[string]string) (string, error) {
	dctx, cancel := context.WithTimeout(ctx, r.opts.DeployTimeout)
	defer cancel()
	prefix := r.prefix
	if prefix == "" {
		prefix = "contract"
	}
	name := "tenantcheck-" + prefix + "-" + label + "-" + randBase32(r.rng, 8)
	tags := maps.Clone(r.opts.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	for k, v := range extra { // a key the target names: never one that would hide the run's tag
		if k != runTag && !strings.HasPrefix(k, "aws:") {
			tags[k] = v
		}
	}
	tags[runTag] = r.runID // last: it is how a sweep finds what a crash left behind
	in := probes.Function{
		Name: name, Role: r.opts.Role, Zip: r.opts.Zip, Arch: r.opts.Arch, Timeout: r.opts.FunctionTimeout,
		PerTenant: perTenant, LogGroup: r.opts.LogGroup, Tags: tags, Env: env,
		Description: "tenantcheck " + prefix + " phase: deleted when the phase ends",
	}.CreateInput()
	call := ContractCall{Op: "CreateFunction", Case: label, Function: name, Start: time.Now()}
	out, err := r.c.CreateFunction(dctx, in)
	call.Duration = time.Since(call.Start)
	if err != nil {
		// A create cut short on our side (context cancelled, connection lost) may still
		// complete on the target's: cleanup looks for it too.
		r.uncertain = append(r.uncertain, name)
		r.recordErr(&call, mapSDKError("create function "+name, err))
		if perTenant {
			r.obs.Echo = append(r.obs.Echo, call)
		}
		return "", fmt.Errorf("contract: create %s function %s: %s", label, name, call.Err)
	}
	r.created = append(r.created, name)
	call.StatusCode = 201
	call.HasTenancy, call.Tenancy = tenancyOf(out.TenancyConfig)
	if perTenant {
		r.obs.Echo = append(r.obs.Echo, call)
	}
	if out.State != types.StateActive {
		w := lambda.NewFunctionActiveV2Waiter(r.c)
		if err := w.Wait(dctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, r.opts.DeployTimeout); err != nil {
			return name, fmt.Errorf("contract: wait for %s to become Active: %w", name, err)
		}
	}
	return name, nil
}

// runTag tags every function a phase creates with the phase's run ID.
const runTag = "tenantcheck-run"

// waitUpdated waits for a configuration update to finish, so the next update is not refused
// with ResourceConflictException on targets that update asynchronously (AWS).
func (r *contractRun) waitUpdated(ctx context.Context, name string) error {
	w := lambda.NewFunctionUpdatedV2Waiter(r.c)
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, r.opts.DeployTimeout); err != nil {
		r.fail("wait for the update of %s to finish: %v", name, err)
		return fmt.Errorf("wait for the update of %s to finish: %w", name, err)
	}
	return nil
}

func tenancyOf(tc *types.TenancyConfig) (bool, string) {
	if tc == nil {
		return false, ""
	}
	return true, string(tc.TenantIsolationMode)
}

// recordErr copies an error's HTTP status and code into call.
func (r *contractRun) recordErr(call *ContractCall, err error) {
	call.Err = err.Error()
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		call.StatusCode, call.ErrorCode, call.Message = apiErr.StatusCode, apiErr.Code, apiErr.Message
	}
}

// invokeSpec is one invocation of the phase.
type invokeSpec struct {
	op, label      string
	function, qual string
	tenant         string
	hasTenant      bool
	async, stream  bool
	hold           time.Duration
	timeout        time.Duration // 0: InvokeTimeout
}

// invoke makes one invocation without retries and records it, with the probe's report: from
// the payload for sync and streamed calls, from the async channel for Event calls.
func (r *contractRun) invoke(ctx context.Context, s invokeSpec) ContractCall {
	seq := r.seq.Add(1)
	op := s.op
	if op == "" {
		op = "Invoke"
		if s.stream {
			op = "InvokeWithResponseStream"
		}
	}
	call := ContractCall{Op: op, Case: s.label, Function: s.function, Qualifier: s.qual, Tenant: s.tenant,
		HasTenant: s.hasTenant, Async: s.async, Stream: s.stream}
	ev := probes.Event{Schema: probes.SchemaVersion, RunID: r.runID, Tenant: s.tenant, Seq: seq, Hold: s.hold}
	if s.async && r.reports != nil {
		r.reports.prepare(&ev)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		call.Err = fmt.Sprintf("encode event: %v", err)
		return call
	}
	timeout := s.timeout
	if timeout <= 0 {
		timeout = r.opts.InvokeTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := InvokeRequest{Function: s.function, Qualifier: s.qual, Payload: payload, Async: s.async, Stream: s.stream}
	if s.hasTenant {
		req.Tenant = s.tenant
	}
	call.Start = time.Now()
	resp, err := r.inv.Invoke(ictx, req)
	call.Duration = time.Since(call.Start)
	if err != nil {
		r.recordErr(&call, err)
		return call
	}
	call.StatusCode, call.FunctionError = resp.StatusCode, resp.FunctionError
	if call.FunctionError != "" {
		call.Err = fmt.Sprintf("function error %s: %s%s", resp.FunctionError, truncate(string(resp.Payload), 300), resp.ErrorDetails)
		return call
	}
	if s.async {
		if r.reports == nil {
			return call
		}
		rep, err := r.reports.wait(ctx, s.function, r.runID, seq, r.opts.AsyncReportTimeout)
		if err != nil {
			call.Err = asyncErrText(err)
			return call
		}
		call.Report, call.Err = checkReport(rep)
		return call
	}
	var rep probes.Report
	if err := json.Unmarshal(resp.Payload, &rep); err != nil {
		call.Err = fmt.Sprintf("decode probe report: %v", err)
		return call
	}
	call.Report, call.Err = checkReport(&rep)
	return call
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// rawRequest sends a SigV4-signed request the SDK cannot express (an UpdateFunctionConfiguration
// carrying TenancyConfig, which the API has no member for), with the client's own endpoint,
// credentials and HTTP client, and records the answer.
func (r *contractRun) rawRequest(ctx context.Context, op, label, method, path string, body []byte) (call ContractCall) {
	call = ContractCall{Op: op, Case: label, Body: string(body), Start: time.Now()}
	defer func() { call.Duration = time.Since(call.Start) }()
	rctx, cancel := context.WithTimeout(ctx, r.opts.InvokeTimeout)
	defer cancel()
	req, err := r.signedRequest(rctx, method, path, body)
	if err != nil {
		call.Err = err.Error()
		return call
	}
	resp, err := r.c.Options().HTTPClient.Do(req)
	if err != nil {
		call.Err = fmt.Sprintf("%s %s: %v", method, path, err)
		return call
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		call.Err = fmt.Sprintf("read %s answer: %v", op, err)
	}
	call.StatusCode = resp.StatusCode
	if resp.StatusCode >= 300 {
		call.ErrorCode = errorTypeHeader(resp.Header.Get("X-Amzn-ErrorType"))
		var doc struct {
			Message  string `json:"message"`
			Message2 string `json:"Message"`
			Type     string `json:"__type"`
		}
		_ = json.Unmarshal(b, &doc)
		call.Message = doc.Message + doc.Message2
		if call.ErrorCode == "" {
			call.ErrorCode = errorTypeHeader(doc.Type)
		}
		if call.Err == "" {
			call.Err = fmt.Sprintf("%s: status %d, %s: %s", op, resp.StatusCode, call.ErrorCode, call.Message)
		}
		return call
	}
	var cfg struct {
		TenancyConfig *struct {
			TenantIsolationMode string
		}
	}
	if err := json.Unmarshal(b, &cfg); err == nil && cfg.TenancyConfig != nil {
		call.HasTenancy, call.Tenancy = true, cfg.TenancyConfig.TenantIsolationMode
	}
	return call
}

// errorTypeHeader strips what restJson1 allows around the code: "Code:http://..." or a
// namespace prefix "aws.lambda#Code".
func errorTypeHeader(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	if i := strings.LastIndexByte(v, '#'); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

func (r *contractRun) signedRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	o := r.c.Options()
	base, err := r.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	// path arrives escaped (a function name may need it); keep that form on the wire.
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %w", path, err)
	}
	u := *base
	u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + path
	u.Path = strings.TrimSuffix(base.Path, "/") + unescaped
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.Credentials == nil {
		return req, nil
	}
	creds, err := o.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("retrieve credentials to sign %s %s: %w", method, path, err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", o.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", method, path, err)
	}
	return req, nil
}

// endpoint is the client's BaseEndpoint, or what the SDK resolves for its region.
func (r *contractRun) endpoint(ctx context.Context) (*url.URL, error) {
	o := r.c.Options()
	if o.BaseEndpoint != nil {
		u, err := url.Parse(*o.BaseEndpoint)
		if err != nil {
			return nil, fmt.Errorf("parse endpoint %q: %w", *o.BaseEndpoint, err)
		}
		return u, nil
	}
	if o.EndpointResolverV2 == nil {
		return nil, errors.New("the lambda client has neither a base endpoint nor an endpoint resolver")
	}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, lambda.EndpointParameters{
		Region: aws.String(o.Region), UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false),
	})
	if err != nil {
		return nil, fmt.Errorf("resolve lambda endpoint for %s: %w", o.Region, err)
	}
	return &ep.URI, nil
}

// sdkCall records a control plane call made through the SDK; md is the output's
// ResultMetadata, where the SDK keeps the raw HTTP response.
func (r *contractRun) sdkCall(op, label, function string, start time.Time, md middleware.Metadata, err error) ContractCall {
	call := ContractCall{Op: op, Case: label, Function: function, Start: start, Duration: time.Since(start)}
	if err != nil {
		r.recordErr(&call, mapSDKError(op+" "+function, err))
		return call
	}
	call.StatusCode = http.StatusOK
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil && raw.Response != nil {
		call.StatusCode = raw.StatusCode
	}
	return call
}
