// Package probes is the function code tenantcheck deploys into the target under test.
//
// The probe is deliberately the tenantcheck binary itself (see cmd/tenantcheck): when it is started
// by a Lambda runtime as `bootstrap`, it runs Main instead of the CLI, so the code that runs inside
// the target can never be stale against the code that judges it, and `go install` users need no
// separate build step.
//
// This file is the wire schema between the probe and the runner. It is versioned because a probe
// deployed by one tenantcheck version may be read by another (`run --function`).
package probes

import "time"

// SchemaVersion is bumped whenever Event or Report change incompatibly, so a runner can refuse a
// probe it cannot read instead of misjudging it.
const SchemaVersion = 1

// Action asks the probe to leave the happy path, so schedules can exercise what follows an error,
// a timeout or a crash (the moments a careless target recycles an environment).
type Action string

const (
	// ActionNone: report, plant, return normally.
	ActionNone Action = ""
	// ActionError: plant, then return a handled error (X-Amz-Function-Error: Unhandled).
	ActionError Action = "error"
	// ActionTimeout: plant, then sleep past the function deadline (Sandbox.Timedout, env reset).
	ActionTimeout Action = "timeout"
	// ActionCrash: plant, then exit the process (Runtime.ExitError, env reset).
	ActionCrash Action = "crash"
)

// Event is the invocation payload the runner sends. Tenant is the ground truth: the tenant the
// runner passed in X-Amz-Tenant-Id. The probe never trusts it for routing; it only stamps canaries
// with it so a leak can be traced to the invocation that planted it.
type Event struct {
	Schema int    `json:"schema"`
	RunID  string `json:"runId"`
	Tenant string `json:"tenant"`
	Seq    int64  `json:"seq"`
	Action Action `json:"action,omitempty"`
	// ReportURL, when set, is a loopback URL the probe POSTs its Report to. Event (async)
	// invocations have no response body, so this is how their reports reach the runner.
	ReportURL string `json:"reportUrl,omitempty"`
	// BackgroundDelay is how long the background goroutine waits before recording its canary.
	BackgroundDelay time.Duration `json:"backgroundDelayNs,omitempty"`
	// Hold keeps the invocation running this long after planting (bounded by the function's
	// deadline), so its environment stays busy. The contract phase holds many tenants'
	// environments at once to reach a target's environment cap; a probe too old to know the
	// field ignores it and the cap is simply not reached.
	Hold time.Duration `json:"holdNs,omitempty"`
}

// Place names where state can survive between invocations. Checks are keyed on these names.
type Place string

const (
	PlaceMemory     Place = "memory"     // package-level variable
	PlaceTmp        Place = "tmp"        // /tmp
	PlaceDevShm     Place = "dev-shm"    // /dev/shm
	PlaceVarTmp     Place = "var-tmp"    // /var/tmp
	PlaceHome       Place = "home"       // $HOME
	PlaceCodeDir    Place = "code-dir"   // LAMBDA_TASK_ROOT (writes must fail)
	PlaceEnvVar     Place = "env-var"    // os.Setenv at run time
	PlaceBackground Place = "background" // a goroutine still running after the response
	PlaceCredCache  Place = "cred-cache" // a global credentials cache
	PlaceProcess    Place = "process"    // another process's /proc/<pid>/environ or cmdline
)

// Canary is one planted marker. Every field needed to trace a finding back to the exact
// invocation that planted it travels inside the canary itself.
type Canary struct {
	Nonce         string `json:"nonce"` // 128 random bits, hex
	RunID         string `json:"runId"`
	Tenant        string `json:"tenant"`        // ground truth of the planting invocation
	ContextTenant string `json:"contextTenant"` // what lambdacontext reported to the planter
	EnvID         string `json:"envId"`
	RequestID     string `json:"requestId"`
	Seq           int64  `json:"seq"`
	Place         Place  `json:"place"`
}

// Found is a canary seen by an invocation, with where it was seen.
type Found struct {
	Canary Canary `json:"canary"`
	Place  Place  `json:"place"`
	// Where is the exact location: a path, a variable name, a pid.
	Where string `json:"where"`
}

// PlantResult says whether planting in a place worked, so a check can tell "no leak" from
// "nothing was ever planted there".
type PlantResult struct {
	Place   Place `json:"place"`
	Planted bool  `json:"planted"`
	// Nonce of the canary planted (or attempted) here, so a later Found can be matched to the
	// exact PlantResult that produced it.
	Nonce string `json:"nonce,omitempty"`
	Where string `json:"where,omitempty"`
	Error string `json:"error,omitempty"`
}

// Report is what the probe returns (sync) or posts to Event.ReportURL (async).
type Report struct {
	Schema int `json:"schema"`
	// Identity of the execution environment.
	EnvID         string    `json:"envId"` // random, chosen at init
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"startedAt"`
	LogStream     string    `json:"logStream"`
	Cold          bool      `json:"cold"`
	Invocations   int64     `json:"invocations"` // served by this environment, this one included
	RequestID     string    `json:"requestId"`
	ContextTenant string    `json:"contextTenant"`
	// Echo of the event, so an async report can be matched to the invocation that caused it.
	RunID  string `json:"runId"`
	Tenant string `json:"tenant"`
	Seq    int64  `json:"seq"`

	Found   []Found       `json:"found"`
	Planted []PlantResult `json:"planted"`
	// CodeDirWritable is true when a write into the code directory succeeded (it must not).
	CodeDirWritable bool `json:"codeDirWritable"`
	// ProcessesSeen counts other processes visible in /proc.
	ProcessesSeen int `json:"processesSeen"`
	// ProcessesReadable counts those whose environ or cmdline the probe could read: a process
	// that is visible but unreadable leaks less than one whose environment can be read.
	ProcessesReadable int `json:"processesReadable"`
	// Truncated is true when Found was capped (at most 256 per place, 256 KB in all). Canaries
	// of another tenant or run are kept first, so a capped report still shows a leak.
	Truncated bool `json:"truncated,omitempty"`
	// PostError says why posting to Event.ReportURL failed. It is set only on the copy returned
	// to the caller (a posted copy cannot carry its own delivery result).
	PostError string `json:"postError,omitempty"`
}
