package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/probes"
)

// ContractOptions select what RunContract exercises. Only Zip is required.
type ContractOptions struct {
	// Zip is the probe's deployment package. The phase deploys its own functions from it (a
	// PER_TENANT one and an ordinary one) because it changes their configuration, which must
	// never happen to a function the user named.
	Zip []byte
	// Function and Qualifier name the probe the isolation run used, if any. Only read
	// (GetFunction, GetFunctionConfiguration), as extra TenancyConfig echoes.
	Function  string
	Qualifier string
	// Role is the execution role of the functions the phase creates; empty means a dummy ARN
	// that local targets accept.
	Role string
	// Seed fixes the tenant IDs the phase invents.
	Seed int64
	// ReportSink starts a loopback sink so Event invocations can report (loopback targets only).
	// It is the older spelling of AsyncChannel AsyncChannelSink and applies only when
	// AsyncChannel is empty.
	ReportSink bool
	// AsyncChannel selects how Event invocations' reports reach the runner: AsyncChannelSink,
	// AsyncChannelLogs or AsyncChannelNone; empty means the sink when ReportSink is set, none
	// otherwise. The logs channel reads each function's default log group (LogGroupName),
	// which is where the functions this phase creates log.
	AsyncChannel string
	// Logs reads the log groups for AsyncChannelLogs (see NewLogsClient).
	Logs LogsClient
	// LogGroup, when set, is where every function the phase creates logs (LoggingConfig), and
	// what the logs channel reads. On AWS it is the probe stack's own log group: the execution
	// role may write nowhere else, and teardown removes it, so the phase leaves no log group
	// behind.
	LogGroup string
	// Tags are added to every function the phase creates, so a sweep by tag finds one a crash
	// left behind (on AWS: the stack's run-id tag).
	Tags map[string]string
	// CapProbe is the target's environment cap per function. 0 skips the cap probe: the runner
	// cannot learn a remote target's cap, and guessing would either miss it or cost a fortune.
	CapProbe int
	// IdleTimeout is how long the target lets an environment idle before destroying it, as it
	// publishes it (Isolation.IdleTimeoutMs); 0 means unknown, and the lifecycle phase's quiet
	// event is skipped. QuietMax bounds the quiet period that event waits (past IdleTimeout);
	// 0 means 30s.
	IdleTimeout, QuietMax time.Duration
	// IdleTimeoutTag is the tag the target lets a function be created with to have an idle
	// timeout of its own (Isolation.IdleTimeoutTag); "" when it offers none.
	IdleTimeoutTag string
	// CapExtra is how many invocations beyond CapProbe are sent at once. 0 means max(4, cap/8).
	CapExtra int
	// Hold is how long each cap-probe invocation keeps its environment busy. 0 means 3s.
	Hold time.Duration
	// NewTenants is the size of the never-seen tenant batch (TI-API-007) and of the cold-start
	// series (TI-API-009). 0 means 6.
	NewTenants int
	// Arch is the Lambda architecture of Zip ("arm64", "x86_64"), set on every function the
	// phase creates: a function left at the service's default (x86_64) cannot start an arm64
	// binary. Empty leaves it to the target's default.
	Arch string
	// FunctionTimeout of the functions the phase creates; must exceed Hold. 0 means 15s.
	FunctionTimeout time.Duration
	// InvokeTimeout bounds one call. 0 means 30s.
	InvokeTimeout time.Duration
	// DeployTimeout bounds creating a function and waiting for it to be Active. 0 means 5m.
	DeployTimeout time.Duration
	// AsyncReportTimeout bounds the wait for an Event invocation's report. 0 means 10s with
	// the sink, 60s with the logs channel.
	AsyncReportTimeout time.Duration
	// Forwarder makes the phase's report sink reachable from inside the target's environments;
	// nil means the target's own endpoint when the client points at loopback.
	Forwarder Forwarder
}

func (o ContractOptions) withDefaults() ContractOptions {
	if o.CapExtra <= 0 {
		o.CapExtra = max(4, o.CapProbe/8)
	}
	if o.Hold <= 0 {
		o.Hold = 3 * time.Second
	}
	if o.QuietMax <= 0 {
		o.QuietMax = 30 * time.Second
	}
	if o.NewTenants <= 0 {
		o.NewTenants = 6
	}
	if o.FunctionTimeout <= 0 {
		o.FunctionTimeout = 15 * time.Second
	}
	d := DefaultSettings()
	if o.InvokeTimeout <= 0 {
		o.InvokeTimeout = d.Invoke
	}
	if o.DeployTimeout <= 0 {
		o.DeployTimeout = d.Deploy
	}
	o.AsyncChannel = resolveAsyncChannel(o.AsyncChannel, o.ReportSink)
	if o.AsyncReportTimeout <= 0 {
		o.AsyncReportTimeout = d.asyncReportTimeout(o.AsyncChannel)
	}
	return o
}

// ContractCall is one API call of the contract phase and the raw facts of its answer. The
// suite judges these; nothing here decides what is right.
type ContractCall struct {
	Op   string `json:"op"`             // API operation, e.g. Invoke, UpdateFunctionConfiguration
	Case string `json:"case,omitempty"` // what the call probes, e.g. "no-tenant", "len-257"
	// Function and Qualifier are what the call addressed.
	Function  string `json:"function,omitempty"`
	Qualifier string `json:"qualifier,omitempty"`
	// Tenant is the X-Amz-Tenant-Id sent; HasTenant tells "" sent apart from no header.
	Tenant    string        `json:"tenant,omitempty"`
	HasTenant bool          `json:"hasTenant,omitempty"`
	Async     bool          `json:"async,omitempty"`
	Stream    bool          `json:"stream,omitempty"`
	Body      string        `json:"body,omitempty"` // request body of a raw request
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"durationNs"`

	// StatusCode is the HTTP status of the answer; 0 when there was none.
	StatusCode int    `json:"statusCode"`
	ErrorCode  string `json:"errorCode,omitempty"` // X-Amzn-ErrorType, e.g. InvalidParameterValueException
	Message    string `json:"message,omitempty"`
	// Err is any failure as text (API error, transport error, missing async report).
	Err           string `json:"error,omitempty"`
	FunctionError string `json:"functionError,omitempty"`
	// Report is the probe's report (sync payload, stream payload or posted by an Event).
	Report *probes.Report `json:"report,omitempty"`

	// HasTenancy and Tenancy are the TenancyConfig echoed by a call that returns a function
	// configuration: whether it was present, and its TenantIsolationMode.
	HasTenancy bool   `json:"hasTenancy,omitempty"`
	Tenancy    string `json:"tenancy,omitempty"`
	// SnapStart is the SnapStart.ApplyOn echoed by a configuration update.
	SnapStart string `json:"snapStart,omitempty"`
}

// OK reports whether the call got a 2xx answer.
func (c ContractCall) OK() bool { return c.StatusCode >= 200 && c.StatusCode < 300 && c.Err == "" }

// ContractObservations is the raw record of the contract phase, one list per clause family.
type ContractObservations struct {
	// Function is the PER_TENANT function the phase created, Ordinary the one without
	// TenancyConfig, Version the version it published of Function ("" when publishing failed).
	Function string `json:"function"`
	Ordinary string `json:"ordinary"`
	Version  string `json:"version,omitempty"`
	// AsyncReports is true when Event invocations could report back (an async channel was
	// open); AsyncChannel says which (AsyncChannelSink, AsyncChannelLogs).
	AsyncReports bool   `json:"asyncReports"`
	AsyncChannel string `json:"asyncChannel,omitempty"`
	// Cap is the environment cap probed (0: not probed); Hold how long each call held its
	// environment; CapExtra how many calls were sent beyond the cap.
	Cap      int           `json:"cap,omitempty"`
	CapExtra int           `json:"capExtra,omitempty"`
	Hold     time.Duration `json:"holdNs,omitempty"`

	Echo             []ContractCall `json:"echo"`             // TI-API-001: calls returning configurations
	ModeChange       []ContractCall `json:"modeChange"`       // TI-API-002: raw updates, each followed by a read
	MissingTenant    []ContractCall `json:"missingTenant"`    // TI-API-003
	UnexpectedTenant []ContractCall `json:"unexpectedTenant"` // TI-API-004
	TenantLength     []ContractCall `json:"tenantLength"`     // TI-API-005
	TenantChars      []ContractCall `json:"tenantChars"`      // TI-API-006
	NewTenants       []ContractCall `json:"newTenants"`       // TI-API-007
	Async            []ContractCall `json:"async"`            // TI-API-008: sync warm-ups and Event calls
	ColdStarts       []ContractCall `json:"coldStarts"`       // TI-API-009: Case "warm-up" or "new"
	CapCalls         []ContractCall `json:"capCalls"`         // TI-API-010
	Unsupported      []ContractCall `json:"unsupported"`      // TI-API-011
	Routing          []ContractCall `json:"routing"`          // TI-API-012: Case "stream" or "version"

	// Skipped names parts that were not exercised ("async", "cap", "version", "stream"),
	// with the reason, so a check can SKIP with it.
	Skipped map[string]string `json:"skipped,omitempty"`
	// NotRun, when set, says why the whole phase did not run; every contract check SKIPs
	// with it.
	NotRun string `json:"notRun,omitempty"`
	// Errors are setup and cleanup problems (deploy, publish, delete).
	Errors  []string      `json:"errors,omitempty"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsedNs"`
}

// SkippedContract records that the contract phase could not run, so its checks SKIP with the
// reason instead of a generic one.
func SkippedContract(reason string) *ContractObservations {
	return &ContractObservations{NotRun: reason, Started: time.Now()}
}

func (o *ContractObservations) skip(part, reason string) {
	if o.Skipped == nil {
		o.Skipped = map[string]string{}
	}
	o.Skipped[part] = reason
}

// Parts of the phase that can be skipped, keys of ContractObservations.Skipped.
const (
	ContractPartAsync   = "async"
	ContractPartCap     = "cap"
	ContractPartVersion = "version"
	ContractPartStream  = "stream"
)

// RunContract exercises the API contract of tenant isolation against the target behind c: it
// deploys a PER_TENANT and an ordinary function from opts.Zip, makes every call the contract
// checks need, and records the raw answers. Invocations are never retried, so throttles and
// errors are seen as the target sent them. Everything it created is deleted before it returns,
// on failure too. The returned observations are usable even with an error (partial phase).
func RunContract(ctx context.Context, c *lambda.Client, opts ContractOptions) (obs *ContractObservations, err error) {
	r, err := newContractRun(c, opts, "contract", 0x636f6e7472616374)
	if err != nil {
		return SkippedContract(err.Error()), err
	}
	opts = r.opts
	defer func() {
		r.obs.Elapsed = time.Since(r.obs.Started)
		obs = r.obs
	}()
	fwd := opts.Forwarder
	if fwd == nil {
		fwd = clientForwarder(c)
	}
	ch, err := openAsyncChannel(ctx, opts.AsyncChannel, opts.Logs, opts.LogGroup, r.obs.Started, fwd)
	if err != nil {
		return r.obs, fmt.Errorf("contract: %w", err)
	}
	if ch != nil {
		defer ch.close()
		r.reports = ch
		r.obs.AsyncReports, r.obs.AsyncChannel = true, opts.AsyncChannel
	}
	defer func() {
		if cerr := r.cleanup(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := r.setup(ctx); err != nil {
		return r.obs, err
	}
	r.echo(ctx)
	r.invokeValidation(ctx)
	r.newTenants(ctx)
	r.coldStarts(ctx)
	r.async(ctx)
	r.routing(ctx)
	r.unsupported(ctx)
	r.capProbe(ctx)
	// Last, because a target that lets the mode change leaves the function unusable for
	// every other part.
	r.modeChange(ctx)
	if err := ctx.Err(); err != nil {
		return r.obs, fmt.Errorf("contract: stopped: %w", err)
	}
	return r.obs, nil
}

// newContractRun checks the options of a phase that creates functions of its own and sets up its
// calls: prefix names the phase (in errors and in its functions' names), salt keeps its invented
// tenant IDs apart from another phase's of the same seed.
func newContractRun(c *lambda.Client, opts ContractOptions, prefix string, salt uint64) (*contractRun, error) {
	if c == nil {
		return nil, fmt.Errorf("%s: nil lambda client", prefix)
	}
	if len(opts.Zip) == 0 {
		return nil, fmt.Errorf("%s: no probe deployment package", prefix)
	}
	opts = opts.withDefaults()
	if opts.Hold >= opts.FunctionTimeout {
		return nil, fmt.Errorf("%s: hold %s must be shorter than the function timeout %s", prefix, opts.Hold, opts.FunctionTimeout)
	}
	runID, _, err := newRunIdentity()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	r := &contractRun{
		c: c, raw: newNoRetryClient(c), opts: opts, runID: runID, prefix: prefix,
		rng: rand.New(rand.NewPCG(uint64(opts.Seed), salt)),
		obs: &ContractObservations{Started: time.Now()},
	}
	r.inv = &LambdaInvoker{Client: r.raw}
	return r, nil
}

// newNoRetryClient is c with retries off: the contract checks must see each answer (a 429
// above all) exactly as the target sent it.
func newNoRetryClient(c *lambda.Client) *lambda.Client {
	return lambda.New(c.Options(), func(o *lambda.Options) { o.Retryer = aws.NopRetryer{} })
}

type contractRun struct {
	c, raw *lambda.Client
	inv    *LambdaInvoker
	opts   ContractOptions
	runID  string
	// prefix names the phase in the functions it creates (tenantcheck-PREFIX-...); "" is
	// "contract".
	prefix  string
	rng     *rand.Rand
	reports asyncChannel // nil: Event invocations cannot report
	seq     atomic.Int64 // invocations are concurrent in the batch and cap parts
	obs     *ContractObservations
	// created lists the functions to delete, in creation order.
	created []string
	// uncertain lists functions whose CreateFunction failed on our side: they may exist.
	uncertain []string
}

func (r *contractRun) fail(format string, args ...any) {
	r.obs.Errors = append(r.obs.Errors, fmt.Sprintf(format, args...))
}

// tenant invents a tenant ID no earlier call of this phase used.
func (r *contractRun) tenant(label string) string {
	return fmt.Sprintf("tc-%s-%s", label, randBase32(r.rng, 8))
}
