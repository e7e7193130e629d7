package runner

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/apilint"
	"github.com/tenantcheck/tenantcheck/authorizer"
	"github.com/tenantcheck/tenantcheck/probes"
)

// Gateway cases, the prefixes of GatewayRequest.Case, one per question the gateway area asks.
const (
	GatewaySpoof  = "spoof" // a valid token plus another tenant named by the client (TI-GW-001)
	GatewayToken  = "token" // a token that must be refused (TI-GW-002, TI-GW-003)
	GatewayCache  = "cache" // tenants taking turns on one path, results cached (TI-GW-004)
	GatewayNoisy  = "noisy" // one tenant past its plan's rate beside one within it (TI-GW-005)
	GatewayCreds  = "creds" // each tenant's S3 data through the authorizer's credentials (TI-GW-006)
	gatewayStage  = "tc"    // the stage of the spoof, token and cache cases
	gatewayNStage = "nn"    // the noisy-neighbour stage, under the metered plan
	gatewayAud    = "tenantcheck-gateway"
)

// GatewayObservations is the raw record of the gateway phase: requests through a REST API front
// door that the phase deploys (a JWT authorizer, usage plans, a PER_TENANT probe) and what each
// reached.
type GatewayObservations struct {
	API        string `json:"api,omitempty"`
	Function   string `json:"function,omitempty"`
	Authorizer string `json:"authorizer,omitempty"`
	// Tenants are the phase's tenants by role: a, b (spoof, cache and token cases), noisy
	// and quiet (the noisy neighbour).
	Tenants  map[string]string `json:"tenants,omitempty"`
	Requests []GatewayRequest  `json:"requests,omitempty"`
	Noisy    *NoisyNeighbour   `json:"noisy,omitempty"`
	// NotRun, when set, says why the phase did not run; every gateway check SKIPs with it.
	NotRun string `json:"notRun,omitempty"`
	// CredsNotRun, when set, says why the credentials case did not run (no S3 service).
	CredsNotRun string `json:"credsNotRun,omitempty"`
	// SetupError says why a target that has a front door could not be given the phase's API,
	// functions and keys: every gateway check is ERROR with it (a SKIP would hide it).
	SetupError string `json:"setupError,omitempty"`
	// Lint is what `tenantcheck lint-api` finds in the deployed API's own export (GetExport
	// oas30 with its extensions): the definition the target serves, read back, not the one
	// sent. LintError says why it could not be read.
	Lint      []apilint.Finding `json:"lint,omitempty"`
	LintError string            `json:"lintError,omitempty"`
	Errors    []string          `json:"errors,omitempty"`
	Started   time.Time         `json:"started"`
	Elapsed   time.Duration     `json:"elapsedNs"`
}

// SkippedGateway records that the gateway phase could not run.
func SkippedGateway(reason string) *GatewayObservations {
	return &GatewayObservations{NotRun: reason, Started: time.Now()}
}

// GatewayRequest is one request through the front door and what came back.
type GatewayRequest struct {
	// Case is the case and variant, "spoof/x-amz-tenant-id", "token/expired", "cache/3".
	Case string `json:"case"`
	// TokenTenant is the tenant the token was minted for ("" for none); Claimed, for a
	// tampered token, the tenant its edited claim names; Spoof the tenant the client named.
	TokenTenant string `json:"tokenTenant,omitempty"`
	Claimed     string `json:"claimed,omitempty"`
	Spoof       string `json:"spoof,omitempty"`
	Status      int    `json:"status"`
	// Reached is the tenant the probe was invoked for (its runtime's tenant), from its report;
	// "" when no report came back, that is, the request reached no environment.
	Reached string `json:"reached,omitempty"`
	EnvID   string `json:"envId,omitempty"`
	// Body is the start of a non-200 answer; Reason the gateway's X-Tenantcheck-Reason.
	Body    string        `json:"body,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Err     string        `json:"err,omitempty"`
	Latency time.Duration `json:"latencyNs"`
	// AuthID is the authorizer decision the request was answered with (its context's
	// authorizationId): equal IDs on two requests mean the second reused a cached result.
	AuthID string `json:"authId,omitempty"`
	// ClientTenants are the tenants the client named in headers and query parameters, as the
	// probe saw them in its event.
	ClientTenants []string `json:"clientTenants,omitempty"`
	// S3 are the probe's S3 calls with the credentials the authorizer passed (creds case).
	S3 []probes.S3Attempt `json:"s3,omitempty"`
}

// NoisyNeighbour is the noisy-neighbour case: Noisy sends well past the metered plan (Rate,
// Burst) while Quiet sends within it, interleaved, each with its own API key.
type NoisyNeighbour struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	// Duration is how long the case lasted (the plan's allowance is Burst + Rate x Duration).
	Duration time.Duration `json:"durationNs"`
	Noisy    LoadCounts    `json:"noisy"`
	Quiet    LoadCounts    `json:"quiet"`
}

// LoadCounts counts one tenant's answers in the noisy-neighbour case.
type LoadCounts struct {
	Tenant    string `json:"tenant"`
	Sent      int    `json:"sent"`
	OK        int    `json:"ok"`
	Throttled int    `json:"throttled"` // 429
	// Other are answers that are neither 200 nor 429, and transport errors; Examples holds
	// the first few.
	Other    int           `json:"other"`
	Examples []string      `json:"examples,omitempty"`
	P50      time.Duration `json:"p50Ns"`
	P99      time.Duration `json:"p99Ns"`
}

// GatewayOptions configures the gateway phase.
type GatewayOptions struct {
	ContractOptions
	// URL is the front door's invocation endpoint; a stage answers at
	// URL/restapis/{id}/{stage}/_user_request_.
	URL string
	// APIGateway is the control-plane client.
	APIGateway *apigateway.Client
	// Region names the API in the ARNs of its definition.
	Region string
	// HTTPClient sends the requests; default a client with InvokeTimeout.
	HTTPClient *http.Client
	// S3 lays out S3 data for the phase's tenants and says how the authorizer mints their
	// credentials; nil (or an error) leaves the credentials case out, with the reason.
	S3 func(ctx context.Context, runID string, tenants []string) (*GatewayS3, error)
	// S3Skip says why S3 is nil, for the report.
	S3Skip string
}

// GatewayS3 is tenant data for the credentials case and how the authorizer reaches it.
type GatewayS3 struct {
	// Credentials configures the authorizer's STS calls (its policy template scopes a tenant).
	Credentials authorizer.CredentialsConfig
	// Requests are each tenant's S3 calls to make with those credentials: its own data and
	// the other tenant's (credentials left empty: the probe takes the authorizer's).
	Requests map[string]probes.S3Request
	// Teardown removes the data.
	Teardown func(context.Context) error
}

// The metered plan of the noisy-neighbour case: a burst of three and one request every ten
// seconds, so over the case's few seconds a key's allowance is its burst, whatever the machine's
// speed. The quiet tenant sends exactly the burst; the noisy one drains its bucket (at most
// noisyDrain requests to find its first 429) and sends noisyBetween more before each quiet one.
const (
	meteredRate  = 0.1
	meteredBurst = 3
	noisyDrain   = 10
	noisyBetween = 3
)

type gatewayRun struct {
	*contractRun
	o      GatewayOptions
	gw     *apigateway.Client
	http   *http.Client
	issuer *authorizer.Issuer
	obs    *GatewayObservations
	seq    int64
	seqMu  sync.Mutex
	keys   map[string]string // tenant (or "default") to API key value
	// made are the control-plane resources to delete: the API, plans and keys.
	api     string
	planIDs []string
	keyIDs  []string
	s3      *GatewayS3
	unfwd   func()
	// importTried: an import cut short on our side may still complete on the target's, so
	// cleanup looks the API up by its title.
	importTried bool
}

// RunGateway deploys a REST API front door on the target (the probe behind a JWT authorizer
// that ships with tenantcheck, usage plans with a key per tenant) and sends it the requests the
// gateway checks judge: a verified tenant with another named beside it, tokens that must be
// refused, tenants taking turns under a cached authorizer, and a noisy neighbour beside a quiet
// one. Everything it creates is deleted before it returns, on failure too.
func RunGateway(ctx context.Context, c *lambda.Client, o GatewayOptions) (obs *GatewayObservations, err error) {
	if o.APIGateway == nil || o.URL == "" {
		return SkippedGateway("the target has no REST API front door"), nil
	}
	cr, err := newContractRun(c, o.ContractOptions, "gateway", 0x67617465776179)
	if err != nil {
		return SkippedGateway(err.Error()), err
	}
	r := &gatewayRun{contractRun: cr, o: o, gw: o.APIGateway, keys: map[string]string{}}
	r.obs = &GatewayObservations{Started: time.Now(), Tenants: map[string]string{}}
	r.http = o.HTTPClient
	if r.http == nil {
		r.http = &http.Client{Timeout: cr.opts.InvokeTimeout}
	}
	defer func() {
		if cerr := r.cleanup(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		r.obs.Elapsed = time.Since(r.obs.Started)
		obs = r.obs
	}()
	if err := r.setup(ctx); err != nil {
		r.obs.SetupError = err.Error()
		return r.obs, err
	}
	r.lint(ctx)
	r.spoofs(ctx)
	r.tokens(ctx)
	r.cache(ctx)
	r.creds(ctx)
	r.noisy(ctx)
	return r.obs, nil
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "tenantcheck-" + hex.EncodeToString(b)
}

func (r *gatewayRun) setup(ctx context.Context) error {
	var err error
	if r.issuer, err = authorizer.NewIssuer("tenantcheck-run-"+r.runID, gatewayAud); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	for _, role := range []string{"a", "b", "noisy", "quiet"} {
		r.obs.Tenants[role] = "gw-" + role + "-" + r.runID[:8]
	}
	for _, t := range r.obs.Tenants {
		r.keys[t] = randomKey()
	}
	r.keys["default"] = randomKey()
	cfg, err := r.issuer.Config(r.keys["default"])
	if err != nil {
		return fmt.Errorf("gateway: authorizer configuration: %w", err)
	}
	r.setupS3(ctx, &cfg)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("gateway: authorizer configuration: %w", err)
	}
	fn, err := r.deploy(ctx, true, "probe", nil)
	r.obs.Function = fn
	if err != nil {
		return err
	}
	authz, err := r.deployWith(ctx, false, "authz", nil, map[string]string{
		authorizer.RoleEnv: authorizer.RoleValue, authorizer.ConfigEnv: string(cfgJSON)})
	r.obs.Authorizer = authz
	if err != nil {
		return err
	}
	fnArn, err := r.functionArn(ctx, fn)
	if err != nil {
		return err
	}
	authzArn, err := r.functionArn(ctx, authz)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, r.opts.DeployTimeout)
	defer cancel()
	r.importTried = true
	api, err := r.gw.ImportRestApi(dctx, &apigateway.ImportRestApiInput{Body: []byte(gatewayDefinition(r.o.Region, r.runID, fnArn, authzArn)), FailOnWarnings: true})
	if err != nil {
		return fmt.Errorf("gateway: import the front door's API: %w", err)
	}
	r.api = aws.ToString(api.Id)
	r.obs.API = r.api
	for _, stage := range []string{gatewayStage, gatewayNStage} {
		if _, err := r.gw.CreateDeployment(dctx, &apigateway.CreateDeploymentInput{RestApiId: api.Id, StageName: aws.String(stage)}); err != nil {
			return fmt.Errorf("gateway: deploy stage %s: %w", stage, err)
		}
	}
	standard, err := r.plan(dctx, "standard", gatewayStage, 1000, 1000)
	if err != nil {
		return err
	}
	metered, err := r.plan(dctx, "metered", gatewayNStage, meteredRate, meteredBurst)
	if err != nil {
		return err
	}
	t := r.obs.Tenants
	for _, k := range []struct {
		owner string
		plans []string
	}{
		{t["a"], []string{standard}}, {t["b"], []string{standard}},
		{t["noisy"], []string{metered}}, {t["quiet"], []string{metered}},
		{"default", []string{standard, metered}},
	} {
		out, err := r.gw.CreateApiKey(dctx, &apigateway.CreateApiKeyInput{Name: aws.String("tenantcheck-" + r.runID[:8] + "-" + k.owner),
			Value: aws.String(r.keys[k.owner]), Enabled: true})
		if err != nil {
			return fmt.Errorf("gateway: API key of %s: %w", k.owner, err)
		}
		r.keyIDs = append(r.keyIDs, aws.ToString(out.Id))
		for _, p := range k.plans {
			if _, err := r.gw.CreateUsagePlanKey(dctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: aws.String(p), KeyId: out.Id, KeyType: aws.String("API_KEY")}); err != nil {
				return fmt.Errorf("gateway: put the key of %s in a usage plan: %w", k.owner, err)
			}
		}
	}
	return nil
}

func (r *gatewayRun) plan(ctx context.Context, name, stage string, rate float64, burst int32) (string, error) {
	out, err := r.gw.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{
		Name:      aws.String("tenantcheck-" + r.runID[:8] + "-" + name),
		ApiStages: []apitypes.ApiStage{{ApiId: aws.String(r.api), Stage: aws.String(stage)}},
		Throttle:  &apitypes.ThrottleSettings{RateLimit: rate, BurstLimit: burst},
	})
	if err != nil {
		return "", fmt.Errorf("gateway: usage plan %s: %w", name, err)
	}
	r.planIDs = append(r.planIDs, aws.ToString(out.Id))
	return aws.ToString(out.Id), nil
}

func (r *gatewayRun) functionArn(ctx context.Context, name string) (string, error) {
	out, err := r.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("gateway: read the ARN of %s: %w", name, err)
	}
	if out.Configuration == nil {
		return "", fmt.Errorf("gateway: GetFunction %s returned no configuration", name)
	}
	return aws.ToString(out.Configuration.FunctionArn), nil
}

// lint reads the deployed stage's export back and lints it as an auditor would.
func (r *gatewayRun) lint(ctx context.Context) {
	out, err := r.gw.GetExport(ctx, &apigateway.GetExportInput{RestApiId: aws.String(r.api), StageName: aws.String(gatewayStage),
		ExportType: aws.String("oas30"), Parameters: map[string]string{"extensions": "integrations,authorizers,apigateway"}})
	if err != nil {
		r.obs.LintError = "GetExport: " + err.Error()
		return
	}
	res, err := apilint.Lint("GetExport oas30 of "+r.api+"/"+gatewayStage, out.Body)
	if err != nil {
		r.obs.LintError = err.Error()
		return
	}
	r.obs.Lint = res.Findings
}

// setupS3 lays out the credentials case's data and gives the authorizer its STS configuration;
// without S3 the case is left out and says why.
func (r *gatewayRun) setupS3(ctx context.Context, cfg *authorizer.Config) {
	if r.o.S3 == nil {
		r.obs.CredsNotRun = cmp.Or(r.o.S3Skip, "no S3 service for the credentials case")
		return
	}
	t := r.obs.Tenants
	data, err := r.o.S3(ctx, r.runID, []string{t["a"], t["b"]})
	if err != nil {
		r.obs.CredsNotRun = "could not lay out tenant data: " + err.Error()
		return
	}
	r.s3 = data
	// The authorizer calls STS and the probe S3 from inside their environments.
	undo, err := forwardEndpoints(ctx, r.opts.Forwarder, data.Credentials.Endpoint, data.Requests[t["a"]].Endpoint)
	if err != nil {
		r.obs.CredsNotRun = "could not make the S3 service reachable from the environments: " + err.Error()
		return
	}
	r.unfwd = undo
	c := data.Credentials
	cfg.Credentials = &c
}

// creds has tenants a and b each try their own and the other's S3 data with the credentials
// the authorizer passed in its context.
func (r *gatewayRun) creds(ctx context.Context) {
	if r.s3 == nil || r.obs.CredsNotRun != "" {
		return
	}
	for _, role := range []string{"a", "b"} {
		t := r.obs.Tenants[role]
		tok, err := r.issuer.Token(t, r.keys[t])
		if err != nil {
			r.fail("gateway: token: %v", err)
			return
		}
		req := r.s3.Requests[t]
		r.record(r.sendS3(ctx, tok, &req, GatewayRequest{Case: GatewayCreds + "/" + role, TokenTenant: t}))
	}
}

// findAPI is the ID of the REST API this run imported, by its title ("" when there is none).
func (r *gatewayRun) findAPI(ctx context.Context) string {
	out, err := r.gw.GetRestApis(ctx, &apigateway.GetRestApisInput{Limit: aws.Int32(500)})
	if err != nil {
		r.fail("gateway: look for the REST API of a cut-short import: %v", err)
		return ""
	}
	for _, a := range out.Items {
		if aws.ToString(a.Name) == gatewayTitle(r.runID) {
			return aws.ToString(a.Id)
		}
	}
	return ""
}

// gatewayTitle is the title of the run's API, how cleanup finds one whose import was cut short.
func gatewayTitle(runID string) string { return "tenantcheck-gateway-" + runID[:8] }

// cleanup deletes the control-plane resources, then the functions.
func (r *gatewayRun) cleanup(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	if r.unfwd != nil {
		r.unfwd()
	}
	if r.s3 != nil && r.s3.Teardown != nil {
		if err := r.s3.Teardown(cctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: remove tenant data (left behind): %w", err))
		}
	}
	if r.api == "" && r.importTried {
		r.api = r.findAPI(cctx)
	}
	if r.api != "" {
		if _, err := r.gw.DeleteRestApi(cctx, &apigateway.DeleteRestApiInput{RestApiId: aws.String(r.api)}); err != nil {
			errs = append(errs, fmt.Errorf("gateway: delete REST API %s (left behind): %w", r.api, err))
		}
	}
	for _, id := range r.planIDs {
		if _, err := r.gw.DeleteUsagePlan(cctx, &apigateway.DeleteUsagePlanInput{UsagePlanId: aws.String(id)}); err != nil {
			errs = append(errs, fmt.Errorf("gateway: delete usage plan %s (left behind): %w", id, err))
		}
	}
	for _, id := range r.keyIDs {
		if _, err := r.gw.DeleteApiKey(cctx, &apigateway.DeleteApiKeyInput{ApiKey: aws.String(id)}); err != nil {
			errs = append(errs, fmt.Errorf("gateway: delete API key %s (left behind): %w", id, err))
		}
	}
	for _, e := range errs {
		r.obs.Errors = append(r.obs.Errors, e.Error())
	}
	if err := r.contractRun.cleanup(ctx); err != nil {
		r.obs.Errors = append(r.obs.Errors, err.Error())
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// gatewayDefinition is the front door's OpenAPI document: four resources, each a POST behind the
// JWT authorizer (identity source: the token; results cached five minutes) and an API key the
// authorizer supplies, its tenant mapped from the authorizer's context as AWS's own sample does.
func gatewayDefinition(region, runID, fnArn, authzArn string) string {
	if region == "" {
		region = "us-east-1"
	}
	uri := func(arn string) string {
		return "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + arn + "/invocations"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `openapi: 3.0.1
info:
  title: %s
  version: "1"
x-amazon-apigateway-api-key-source: AUTHORIZER
paths:
`, gatewayTitle(runID))
	for _, p := range []string{GatewaySpoof, GatewayToken, GatewayCache, GatewayNoisy, GatewayCreds} {
		fmt.Fprintf(&b, `  /%s:
    post:
      security:
        - api_key: []
        - tenant_jwt: []
      responses:
        "200":
          description: the probe's report
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: %s
        requestParameters:
          integration.request.header.X-Amz-Tenant-Id: context.authorizer.tenantId
`, p, uri(fnArn))
	}
	fmt.Fprintf(&b, `components:
  securitySchemes:
    api_key:
      type: apiKey
      name: x-api-key
      in: header
    tenant_jwt:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: %s
        authorizerResultTtlInSeconds: 300
        identitySource: method.request.header.Authorization
`, uri(authzArn))
	return b.String()
}

// send makes one request and records what it reached.
func (r *gatewayRun) send(ctx context.Context, stage, path, token string, hdr http.Header, query url.Values, g GatewayRequest) GatewayRequest {
	return r.sendWith(ctx, stage, path, token, hdr, query, nil, g)
}

// sendS3 sends the credentials case's request: the probe tries req's data.
func (r *gatewayRun) sendS3(ctx context.Context, token string, req *probes.S3Request, g GatewayRequest) GatewayRequest {
	return r.sendWith(ctx, gatewayStage, GatewayCreds, token, nil, nil, req, g)
}

func (r *gatewayRun) sendWith(ctx context.Context, stage, path, token string, hdr http.Header, query url.Values, s3req *probes.S3Request, g GatewayRequest) GatewayRequest {
	r.seqMu.Lock()
	r.seq++
	seq := r.seq
	r.seqMu.Unlock()
	tenant := g.TokenTenant
	if tenant == "" {
		tenant = r.obs.Tenants["a"]
	}
	body, _ := json.Marshal(probes.Event{Schema: probes.SchemaVersion, RunID: r.runID, Tenant: tenant, Seq: seq, SkipCanaries: true, S3: s3req})
	u := strings.TrimRight(r.o.URL, "/") + "/restapis/" + r.api + "/" + stage + "/_user_request_/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		g.Err = err.Error()
		return g
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range hdr {
		req.Header[k] = vs // as given: case variants and repeats go on the wire as they are
	}
	start := time.Now()
	resp, err := r.http.Do(req)
	g.Latency = time.Since(start)
	if err != nil {
		g.Err = err.Error()
		return g
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	g.Status, g.Reason = resp.StatusCode, resp.Header.Get("X-Tenantcheck-Reason")
	if resp.StatusCode != http.StatusOK {
		g.Body = string(raw[:min(len(raw), 200)])
		return g
	}
	var rep probes.Report
	if err := json.Unmarshal(raw, &rep); err != nil || rep.EnvID == "" {
		g.Body = string(raw[:min(len(raw), 200)])
		g.Err = "a 200 that is not the probe's report"
		return g
	}
	g.Reached, g.EnvID, g.S3 = rep.ContextTenant, rep.EnvID, rep.S3
	if rep.Gateway != nil {
		g.AuthID, g.ClientTenants = rep.Gateway.Authorizer[authorizer.AuthorizationIDKey], rep.Gateway.ClientTenants
	}
	return g
}

func (r *gatewayRun) record(g GatewayRequest) { r.obs.Requests = append(r.obs.Requests, g) }

// spoofs sends tenant a's valid token with tenant b named by the client in every way a client
// can: the integration header itself, a tenant header, a query parameter, a case variant and a
// repeated header.
func (r *gatewayRun) spoofs(ctx context.Context) {
	a, b := r.obs.Tenants["a"], r.obs.Tenants["b"]
	tok, err := r.issuer.Token(a, r.keys[a])
	if err != nil {
		r.fail("gateway: token: %v", err)
		return
	}
	for _, v := range []struct {
		name  string
		hdr   http.Header
		query url.Values
	}{
		{"none", nil, nil},
		{"x-amz-tenant-id", http.Header{"X-Amz-Tenant-Id": {b}}, nil},
		{"x-tenant-id", http.Header{"X-Tenant-Id": {b}}, nil},
		{"query", nil, url.Values{"tenantId": {b}, "X-Amz-Tenant-Id": {b}}},
		{"case-variant", http.Header{"X-AMZ-TENANT-ID": {b}}, nil},
		{"repeated", http.Header{"X-Amz-Tenant-Id": {b, a}}, nil},
	} {
		g := GatewayRequest{Case: GatewaySpoof + "/" + v.name, TokenTenant: a}
		if v.name != "none" {
			g.Spoof = b
		}
		r.record(r.send(ctx, gatewayStage, GatewaySpoof, tok, v.hdr, v.query, g))
	}
}

// tokens sends every kind of token that must be refused, each naming tenant a (the tampered one
// claims tenant b), and one valid token as the control that the path admits good ones.
func (r *gatewayRun) tokens(ctx context.Context) {
	a, b := r.obs.Tenants["a"], r.obs.Tenants["b"]
	for _, kind := range authorizer.AllBroken() {
		tok, err := r.issuer.BrokenToken(kind, a, b, r.keys[a])
		if err != nil {
			r.fail("gateway: %s token: %v", kind, err)
			continue
		}
		g := GatewayRequest{Case: GatewayToken + "/" + string(kind), TokenTenant: a}
		if kind == authorizer.BrokenTampered {
			g.Claimed = b
		}
		r.record(r.send(ctx, gatewayStage, GatewayToken, tok, nil, nil, g))
	}
	tok, err := r.issuer.Token(a, r.keys[a])
	if err != nil {
		r.fail("gateway: token: %v", err)
		return
	}
	r.record(r.send(ctx, gatewayStage, GatewayToken, tok, nil, nil, GatewayRequest{Case: GatewayToken + "/valid", TokenTenant: a}))
}

// cache has tenants a and b take turns on one path, each with its own valid token, so the
// authorizer's cached results are looked up for both.
func (r *gatewayRun) cache(ctx context.Context) {
	a, b := r.obs.Tenants["a"], r.obs.Tenants["b"]
	toks := map[string]string{}
	for _, t := range []string{a, b} {
		tok, err := r.issuer.Token(t, r.keys[t])
		if err != nil {
			r.fail("gateway: token: %v", err)
			return
		}
		toks[t] = tok
	}
	for i, t := range []string{a, b, a, b} {
		r.record(r.send(ctx, gatewayStage, GatewayCache, toks[t], nil, nil,
			GatewayRequest{Case: fmt.Sprintf("%s/%d", GatewayCache, i+1), TokenTenant: t}))
	}
}

// noisy has the noisy tenant drain its key's bucket on the metered stage and keep sending while
// the quiet tenant sends within its plan, interleaved: after the noisy tenant's first 429 (its
// bucket is empty), each of the quiet tenant's requests follows a few more of the noisy one's.
// The sequence, not the machine's speed, decides the counts: the plan refills one request every
// ten seconds, so a key the two share is empty at every quiet request, and a quiet key of its
// own holds exactly the plan's burst.
func (r *gatewayRun) noisy(ctx context.Context) {
	nt, qt := r.obs.Tenants["noisy"], r.obs.Tenants["quiet"]
	ntok, err := r.issuer.Token(nt, r.keys[nt])
	if err != nil {
		r.fail("gateway: token: %v", err)
		return
	}
	qtok, err := r.issuer.Token(qt, r.keys[qt])
	if err != nil {
		r.fail("gateway: token: %v", err)
		return
	}
	nn := &NoisyNeighbour{Rate: meteredRate, Burst: meteredBurst}
	nn.Noisy.Tenant, nn.Quiet.Tenant = nt, qt
	var nLat, qLat []time.Duration
	send := func(tok, tenant string, lc *LoadCounts, lats *[]time.Duration) GatewayRequest {
		g := r.send(ctx, gatewayNStage, GatewayNoisy, tok, nil, nil, GatewayRequest{TokenTenant: tenant})
		lc.Sent++
		switch {
		case g.Status == http.StatusOK && g.Reached != "":
			lc.OK++
			*lats = append(*lats, g.Latency)
		case g.Status == http.StatusTooManyRequests:
			lc.Throttled++
		default:
			lc.Other++
			if len(lc.Examples) < 3 {
				lc.Examples = append(lc.Examples, strings.TrimSpace(fmt.Sprintf("%d %s %s %s", g.Status, g.Body, g.Reason, g.Err)))
			}
		}
		return g
	}
	start := time.Now()
	for nn.Noisy.Sent < noisyDrain && ctx.Err() == nil {
		if g := send(ntok, nt, &nn.Noisy, &nLat); g.Status == http.StatusTooManyRequests {
			break
		}
	}
	for range meteredBurst {
		for range noisyBetween {
			send(ntok, nt, &nn.Noisy, &nLat)
		}
		send(qtok, qt, &nn.Quiet, &qLat)
	}
	nn.Duration = time.Since(start)
	nn.Noisy.P50, nn.Noisy.P99 = percentile(nLat, 50), percentile(nLat, 99)
	nn.Quiet.P50, nn.Quiet.P99 = percentile(qLat, 50), percentile(qLat, 99)
	r.obs.Noisy = nn
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, (len(s)*p)/100)]
}

// NewAPIGatewayClient makes the API Gateway control-plane client of the target a Lambda client
// talks to: same endpoint, region, credentials and transport.
func NewAPIGatewayClient(c *lambda.Client) *apigateway.Client {
	lo := c.Options()
	return apigateway.New(apigateway.Options{
		Region: lo.Region, Credentials: lo.Credentials, HTTPClient: lo.HTTPClient,
		BaseEndpoint: lo.BaseEndpoint, RetryMaxAttempts: 3,
	})
}

func (r *gatewayRun) fail(format string, args ...any) {
	r.obs.Errors = append(r.obs.Errors, fmt.Sprintf(format, args...))
}
