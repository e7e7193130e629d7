package runner

import "time"

// Defaults is the one table of what a run does when nobody says otherwise. The CLI's flags, the
// selftest command and library callers (a zero field of Options, ContractOptions or S3Options)
// all read it, so `tenantcheck run` with no flags and runner.Run with zero Options plan the same
// run and a default changes in one place.
type Defaults struct {
	// Tenants is the number of fresh random tenants; adversarial pairs come on top.
	Tenants int
	// Invocations is the total of the isolation schedules, split by weight.
	Invocations int
	// Concurrency bounds invocations in flight in the concurrent schedules.
	Concurrency int
	// FunctionTimeout of the deployed probe: the errors schedule waits it out, so it is short.
	FunctionTimeout time.Duration
	// Invoke bounds one invocation, retries included.
	Invoke time.Duration
	// Phase bounds one schedule.
	Phase time.Duration
	// AsyncReportSink and AsyncReportLogs bound the wait for an Event invocation's report
	// through the loopback sink and through CloudWatch Logs (which makes lines searchable
	// seconds after they are written).
	AsyncReportSink, AsyncReportLogs time.Duration
	// AsyncRetryWait bounds the wait, after the errors schedule, for the retries of failed Event
	// invocations on a target that does not say when it retries: Lambda retries after about one
	// and then two more minutes. The wait ends as soon as every retry has arrived.
	AsyncRetryWait time.Duration
	// AsyncRetries is how many retries the runner expects of a failed Event invocation:
	// Lambda's default MaximumRetryAttempts.
	AsyncRetries int
	// Deploy bounds deploying the probe and waiting until it is Active.
	Deploy time.Duration
	// LogsWait and LogsWaitAWS bound the wait for log ingestion before the logs area is judged;
	// on AWS ingestion lags.
	LogsWait, LogsWaitAWS time.Duration
	// ErrorRate is the seeded fraction of invocations turned into an error or crash.
	ErrorRate float64
	// MaxTimeouts bounds timeout actions in the errors schedule (each costs a function timeout).
	MaxTimeouts int
	// S3Tenants bounds the tenants the s3 area lays data out for: its cost grows with the
	// square of the count, and four already gives 12 ordered cross-tenant pairs per operation.
	S3Tenants int
	// S3Rounds is how many times the s3 area invokes each tenant per mechanism: the second
	// round is what lets TI-S3-004 see credentials left in a reused environment.
	S3Rounds int
	// MaxEnvironments and IdleTimeout configure the built-in target: its cap on environments
	// per function and how long an idle environment lives.
	MaxEnvironments int
	IdleTimeout     time.Duration
	// SpareEnvironments is how many pre-made environments the built-in target keeps per
	// function version for new tenants: a tenant's first invocation then skips the sandbox's
	// start, which at 10,000 tenants is most of the run.
	SpareEnvironments int
}

// DefaultSettings returns the defaults table. It is a function, not a variable, so no caller can
// change another's defaults.
func DefaultSettings() Defaults {
	return Defaults{
		Tenants:           6,
		Invocations:       800,
		Concurrency:       4,
		FunctionTimeout:   time.Second,
		Invoke:            30 * time.Second,
		Phase:             2 * time.Minute,
		AsyncReportSink:   10 * time.Second,
		AsyncReportLogs:   60 * time.Second,
		AsyncRetryWait:    4 * time.Minute,
		AsyncRetries:      2,
		Deploy:            5 * time.Minute,
		LogsWait:          10 * time.Second,
		LogsWaitAWS:       90 * time.Second,
		ErrorRate:         0.05,
		MaxTimeouts:       2,
		S3Tenants:         4,
		S3Rounds:          2,
		MaxEnvironments:   64,
		IdleTimeout:       5 * time.Minute,
		SpareEnvironments: 4,
	}
}

// asyncReportTimeout is the default wait for an Event invocation's report on channel.
func (d Defaults) asyncReportTimeout(channel string) time.Duration {
	if channel == AsyncChannelLogs {
		return d.AsyncReportLogs
	}
	return d.AsyncReportSink
}
