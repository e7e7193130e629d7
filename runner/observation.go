// Package runner drives schedules of multi-tenant invocations against a target and collects what
// the probes report. It never judges: that is the suites' job.
package runner

import (
	"context"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// InvokeRequest is one invocation as the runner wants it made.
type InvokeRequest struct {
	Function string
	// Qualifier selects a version or alias; empty means $LATEST.
	Qualifier string
	// Tenant goes in X-Amz-Tenant-Id; empty means the header is omitted.
	Tenant  string
	Payload []byte
	// Async selects InvocationType Event.
	Async bool
	// Stream selects InvokeWithResponseStream.
	Stream bool
}

// InvokeResponse is what came back, transport-level facts only.
type InvokeResponse struct {
	StatusCode    int
	FunctionError string // X-Amz-Function-Error, "" when the function succeeded
	Payload       []byte
	LogTail       string // decoded X-Amz-Log-Result, when asked for

	// ErrorDetails is the InvokeComplete error detail of a streamed invocation; streamed
	// responses carry their function error out of band rather than as the payload.
	ErrorDetails string
	// Retries and Throttled are filled by Retrying, so the runner can record how hard the
	// target pushed back even when the invocation eventually succeeded.
	Retries   int
	Throttled bool
}

// Invoker is the one seam between the runner and a target. The production implementation wraps
// the aws-sdk-go-v2 lambda client; tests substitute fakes.
type Invoker interface {
	Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error)
}

// Observation is one invocation the runner made and everything it learned from it.
type Observation struct {
	Seq      int64  `json:"seq"`
	Schedule string `json:"schedule"`
	Tenant   string `json:"tenant"` // ground truth: the tenant the runner asked for
	// Pair names the adversarial pair the tenant belongs to ("case", "separators", ...), empty
	// for a fresh random tenant, so evidence can say which confusion a leak points at.
	Pair   string        `json:"pair,omitempty"`
	Action probes.Action `json:"action,omitempty"`
	Async  bool          `json:"async,omitempty"`
	// Memory marks the invocation that asked its probe to allocate past the memory limit.
	Memory   bool          `json:"memory,omitempty"`
	Stream   bool          `json:"stream,omitempty"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"durationNs"`
	// ReportDelay is, for an Event invocation whose report arrived, the time from the start of
	// the invocation to the report's arrival through the async channel: how stale the runner's
	// view of that environment was (seconds with the logs channel).
	ReportDelay time.Duration `json:"reportDelayNs,omitempty"`

	StatusCode    int    `json:"statusCode"`
	FunctionError string `json:"functionError,omitempty"`
	// ErrorType is the errorType of a function error payload (e.g. Sandbox.Timedout).
	ErrorType string `json:"errorType,omitempty"`
	// Err is a transport or API error after retries; Throttled marks a 429 that outlasted them.
	Err       string `json:"error,omitempty"`
	Throttled bool   `json:"throttled,omitempty"`
	Retries   int    `json:"retries,omitempty"`
	// Opportunity is true when, at issue time, another tenant had a completed invocation and
	// nothing in flight: a target that reuses environments across tenants could have done so here.
	Opportunity bool `json:"opportunity,omitempty"`

	// Report is the probe's report, nil when the invocation produced none (error, crash, lost
	// async report).
	Report *probes.Report `json:"report,omitempty"`
	// AsyncRetries are the reports of the target's retries of a failed Event invocation, in
	// arrival order: each attempt ran the same event, with the same request ID and tenant.
	AsyncRetries []*probes.Report `json:"asyncRetries,omitempty"`
}

// AsyncRetries says how the runner collected the retries of the run's failed Event
// invocations.
type AsyncRetries struct {
	// Failed is the number of Event invocations told to fail whose first report arrived.
	Failed int `json:"failed"`
	// Expected is the retries each should get (Lambda's default MaximumRetryAttempts).
	Expected int `json:"expected"`
	// Received counts the retry reports that arrived within Waited.
	Received int           `json:"received"`
	Waited   time.Duration `json:"waitedNs"`
	// NotCollected, when set, says why retries were not collected at all.
	NotCollected string `json:"notCollected,omitempty"`
	// ReadError is the channel's last failure to read reports (the logs channel), when the
	// wait ended short of the expected retries while reads were failing.
	ReadError string `json:"readError,omitempty"`
}

// TargetInfo describes the target as far as the runner could learn it.
type TargetInfo struct {
	Endpoint string `json:"endpoint"`
	Function string `json:"function"`
	// Isolation is the target's self-declared isolation level, when it declares one (the
	// built-in target does). Nil for targets that say nothing, such as AWS.
	Isolation *Isolation `json:"isolation,omitempty"`
	// AsyncReports is true when Event invocations can deliver their reports to the runner.
	AsyncReports bool `json:"asyncReports"`
	// AsyncChannel is how they did (AsyncChannelSink, AsyncChannelLogs); empty when they could
	// not. A report that came through the logs channel arrived seconds late, so the runner
	// counted its environment busy for longer (fewer opportunities).
	AsyncChannel string `json:"asyncChannel,omitempty"`
	// AsyncRetries says how the retries of failed Event invocations were collected; nil when
	// the run made none.
	AsyncRetries *AsyncRetries `json:"asyncRetries,omitempty"`
	// MemoryAllowanceMB is how far past MemorySize the resources schedule's probe was told the
	// memory limit lies (Options.MemoryAllowanceMB, at most MaxMemoryAllowanceMB).
	MemoryAllowanceMB int `json:"memoryAllowanceMb,omitempty"`
}

// MaxMemoryAllowanceMB bounds the allowance a target may declare past MemorySize: Lambda's
// largest EphemeralStorage, the one deviation the built-in target declares (its /tmp is in
// memory). A target cannot buy a PASS of TI-RES-001 by declaring a huge allowance.
const MaxMemoryAllowanceMB = 10240

// Isolation is what a local target says it can and cannot isolate on this host.
type Isolation struct {
	Level string `json:"level"` // "full", "userns", "process"
	// Missing lists the places the target cannot isolate here, with the reason; checks on
	// those places SKIP rather than PASS or FAIL.
	Missing map[probes.Place]string `json:"missing,omitempty"`
	// Limits are the per-environment limits the target says are in force; nil when it says
	// nothing about them.
	Limits *Limits `json:"limits,omitempty"`
	// AsyncRetryDelaysMs are the waits before each retry of a failed Event invocation, when
	// the target says (the built-in target's are shortened from Lambda's minutes).
	AsyncRetryDelaysMs []int64 `json:"asyncRetryDelaysMs,omitempty"`
	// IdleTimeoutMs is how long an environment may idle before the target destroys it, when
	// the target says; the lifecycle phase's quiet event waits past it.
	IdleTimeoutMs int64 `json:"idleTimeoutMs,omitempty"`
	// IdleTimeoutTag names the tag that gives a function an idle timeout of its own, where the
	// target offers one (the built-in target does, a deviation from Lambda).
	IdleTimeoutTag string `json:"idleTimeoutTag,omitempty"`
	// GatewayURL is where the target's REST API front door answers requests to deployed
	// APIs, whose control plane shares the Lambda endpoint; "" when it has none.
	GatewayURL string `json:"gatewayUrl,omitempty"`
}

// Limits are a target's declared per-environment limits.
type Limits struct {
	// MemoryAllowanceMB is how far past MemorySize the memory limit lies (0: at MemorySize).
	MemoryAllowanceMB int `json:"memoryAllowanceMb"`
	PidsMax           int `json:"pidsMax,omitempty"`
	// FreezeAfterMs is how long an idle environment runs before it is frozen (-1: never).
	FreezeAfterMs int `json:"freezeAfterMs,omitempty"`
}

// Observations is the whole record of one run: the input to every check.
type Observations struct {
	RunID   string     `json:"runId"`
	Seed    int64      `json:"seed"`
	Target  TargetInfo `json:"target"`
	Tenants []string   `json:"tenants"`
	// Pairs maps a tenant ID to its adversarial pair label; fresh random tenants are absent.
	Pairs map[string]string `json:"pairs,omitempty"`
	Items []Observation     `json:"observations"`
	// Opportunities counts invocations that needed an environment while another tenant's
	// environment was, as far as the runner can tell from its own interleaving, idle.
	Opportunities int `json:"opportunities"`
	// ForgedReports counts async reports the runner refused because they did not carry the
	// secret their invocation was given: something inside the target answered for an
	// invocation it was not handed.
	ForgedReports int           `json:"forgedReports,omitempty"`
	Started       time.Time     `json:"started"`
	Elapsed       time.Duration `json:"elapsedNs"`
	// Contract holds the API contract phase (RunContract); nil when that phase was not run,
	// so the contract checks can say so instead of judging nothing.
	Contract *ContractObservations `json:"contract,omitempty"`
	// Lifecycle holds the lifecycle phase (RunLifecycle); nil when that phase was not run.
	Lifecycle *LifecycleObservations `json:"lifecycle,omitempty"`
	// Gateway holds the gateway phase (RunGateway); nil when that phase was not run.
	Gateway *GatewayObservations `json:"gateway,omitempty"`
	// Logs is what the target's log group held for this run, read through the CloudWatch Logs
	// API after the run (CollectLogs); nil when logs were not collected, so the log checks can
	// say so instead of judging nothing.
	Logs *LogsObservation `json:"logs,omitempty"`
	// S3 holds the tenant-scoped data access phase (RunS3, or SkippedS3 when no S3 backend
	// could be had); nil when that phase was not run, so the s3 checks SKIP instead of
	// judging nothing.
	S3 *S3Observations `json:"s3,omitempty"`
	// Incomplete lists the parts of the run that did not finish; the checks of an area named
	// here may FAIL on what was seen but never PASS (suites.Judge).
	Incomplete []Gap `json:"incomplete,omitempty"`
}
