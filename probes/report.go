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
	// ReportLog, when set, makes the probe write its Report to standard output as one log
	// line (see ReportLogLine). That is the async report channel that works on AWS, where the
	// probe cannot reach the runner's loopback: the runner reads the line back through the
	// CloudWatch Logs API. A probe too old to know the field ignores it and the runner's wait
	// for the report runs out.
	ReportLog bool `json:"reportLog,omitempty"`
	// ReportToken is a secret only this invocation is given; the probe echoes it in the report
	// it delivers by ReportURL or ReportLog, and the runner drops any report whose token does
	// not match, so a function of another tenant cannot answer for this invocation.
	ReportToken string `json:"reportToken,omitempty"`
	// BackgroundDelay is how long the background goroutine waits before recording its canary.
	BackgroundDelay time.Duration `json:"backgroundDelayNs,omitempty"`
	// Hold keeps the invocation running this long after planting (bounded by the function's
	// deadline), so its environment stays busy. The contract phase holds many tenants'
	// environments at once to reach a target's environment cap; a probe too old to know the
	// field ignores it and the cap is simply not reached.
	Hold time.Duration `json:"holdNs,omitempty"`
	// S3, when set, carries tenant-scoped credentials the way an API Gateway authorizer hands
	// them to a function, and the buckets to try them on (see RunS3). A probe too old to know
	// the field ignores it and the S3 checks find no attempts to judge.
	S3 *S3Request `json:"s3,omitempty"`
	// RuntimeAPIPeers are host:port Runtime API addresses of other tenants' environments, as
	// their reports gave them. The probe knocks on at most two (see PeerAttempt); a target that
	// keeps each environment's Runtime API to itself refuses or drops every one. A probe too old
	// to know the field ignores it and TI-RAPI-001 finds no attempts to judge.
	RuntimeAPIPeers []string `json:"runtimeApiPeers,omitempty"`
	// InboxPeers are other tenants' environments' inboxes, as their reports gave them: the
	// probe deposits this invocation's network canary into at most two (see Deposit). A target
	// that keeps environments' networks apart refuses every deposit.
	InboxPeers []Inbox `json:"inboxPeers,omitempty"`
	// FrontDoor, when set, asks the probe to try the target's own API as another tenant (see
	// FrontDoorAttempt). A probe too old to know the field ignores it and TI-NET-002 finds no
	// attempts to judge.
	FrontDoor *FrontDoorRequest `json:"frontDoor,omitempty"`
	// Memory, when set, asks the probe to allocate past its memory limit in a child process
	// (TI-RES-001). A probe too old to know the field ignores it and the check finds no
	// attempt to judge.
	Memory *MemoryRequest `json:"memory,omitempty"`
	// SkipCanaries makes the probe neither scan its places nor plant canaries in them: the
	// phase sending it judges something else (the S3 phase judges S3 calls made within the
	// function's timeout) and must not pay for a scan whose cost grows with whatever state a
	// faulty target lets pile up (a session keyring shared by every environment makes every
	// read of /proc/keys slow). A probe too old to know the field scans and plants as always.
	SkipCanaries bool `json:"skipCanaries,omitempty"`
}

// Inbox is an environment's network inbox: a TCP listener, a UDP socket and an abstract unix
// socket it keeps open for its whole life and drains at every invocation. Whatever another
// environment can put there crossed the network boundary between them.
type Inbox struct {
	TCP  string `json:"tcp,omitempty"`  // 127.0.0.1:port
	UDP  string `json:"udp,omitempty"`  // 127.0.0.1:port
	Unix string `json:"unix,omitempty"` // @name, an abstract socket
}

// Deposit is one try at putting this invocation's network canary into another environment's
// inbox. Delivered means the other end accepted the bytes (a datagram: the send succeeded).
type Deposit struct {
	Kind      string `json:"kind"` // tcp, udp, unix
	Addr      string `json:"addr"`
	Delivered bool   `json:"delivered"`
	Detail    string `json:"detail,omitempty"`
}

// FrontDoorRequest names the target's own API as the run reaches it, and another tenant of the
// run to try it as.
type FrontDoorRequest struct {
	// Endpoint is the Lambda (and CloudWatch Logs) endpoint URL; "" means AWS's own for Region.
	Endpoint    string `json:"endpoint,omitempty"`
	Region      string `json:"region"`
	Function    string `json:"function"`
	OtherTenant string `json:"otherTenant"`
	// LogGroup is the function's log group, which holds every tenant's lines.
	LogGroup string `json:"logGroup"`
}

// Front door operations, as recorded in FrontDoorAttempt.Op.
const (
	FrontDoorInvoke   = "Invoke"          // a DryRun invocation of the own function as OtherTenant
	FrontDoorReadLogs = "FilterLogEvents" // a read of the function's log group
)

// FrontDoorAttempt is one call the probe made on the target's own API with the credentials its
// environment was given. Allowed means the target accepted it: a function can then act as
// another tenant, or read another tenant's log lines.
type FrontDoorAttempt struct {
	Op         string `json:"op"`
	Allowed    bool   `json:"allowed"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// Place names where state can survive between invocations, or a channel between environments,
// that a check depends on the target to isolate. Checks are keyed on these names, and a target
// declares a place it cannot isolate under the same name (runner.Isolation.Missing), so the
// checks on it SKIP. The names are wire format (probe reports, the built-in target's
// /_tenantcheck/v1/isolation): never rename one.
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
	PlaceNetwork    Place = "network"    // an environment's inbox sockets (TCP, UDP, abstract unix)
	PlaceKeys       Place = "keys"       // kernel keys: user and session keyrings, keys readable by others
	PlaceLocks      Place = "locks"      // byte-range locks on the function's code file

	// PlaceRuntimeAPI is an environment's Runtime API, reached from another environment. The
	// probe plants nothing there; TI-RAPI-001 knocks on its peers' Runtime APIs instead, and a
	// target that cannot guard them declares this place missing.
	PlaceRuntimeAPI Place = "runtime-api"
	// PlacePids is an environment's process limit: nothing is planted; TI-RES-003 reads the
	// limit each environment reports, and a target that cannot set one declares this place.
	PlacePids Place = "pids"
	// PlaceMemoryLimit is an environment's memory limit: TI-RES-001 asks one probe to allocate
	// past it (in a child process) and a target that cannot set one declares this place.
	PlaceMemoryLimit Place = "memory-limit"
	// PlaceFreezer is an idle environment being frozen: TI-RES-002 reads how long each
	// environment's background goroutine stood still while it was idle, and a target that
	// cannot freeze declares this place.
	PlaceFreezer Place = "freezer"
)

// placeOrder is the order places appear in a report: the order of the constants. Places the
// probe does not plant in (PlaceRuntimeAPI) never appear among findings and are left out.
var placeOrder = [...]Place{
	PlaceMemory, PlaceTmp, PlaceDevShm, PlaceVarTmp, PlaceHome, PlaceCodeDir,
	PlaceEnvVar, PlaceBackground, PlaceCredCache, PlaceProcess, PlaceNetwork, PlaceKeys, PlaceLocks,
}

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

// Report is what the probe returns (sync), posts to Event.ReportURL or logs for Event.ReportLog
// (async).
type Report struct {
	Schema int `json:"schema"`
	// Gateway is set when the invocation came through API Gateway (a proxy event).
	Gateway *GatewaySeen `json:"gateway,omitempty"`
	// Identity of the execution environment.
	EnvID     string    `json:"envId"` // random, chosen at init
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
	// BootID is the kernel's boot ID (/proc/sys/kernel/random/boot_id): environments that
	// report the same one share a kernel, which tells the report what its PASS cannot cover.
	BootID string `json:"bootId,omitempty"`
	// PidsMax is the process limit of the environment's pids cgroup ("max": none; empty: it
	// could not be read), for TI-RES-003.
	PidsMax string `json:"pidsMax,omitempty"`
	// Idle is how the environment spent the time since its previous invocation (TI-RES-002);
	// nil on its first invocation.
	Idle          *IdleWindow `json:"idle,omitempty"`
	LogStream     string      `json:"logStream"`
	Cold          bool        `json:"cold"`
	Invocations   int64       `json:"invocations"` // served by this environment, this one included
	RequestID     string      `json:"requestId"`
	ContextTenant string      `json:"contextTenant"`
	// Echo of the event, so an async report can be matched to the invocation that caused it.
	RunID string `json:"runId"`
	// ReportToken echoes Event.ReportToken in a delivered (async) report; the runner checks it
	// and clears it, so it never reaches a record or a report.
	ReportToken string `json:"reportToken,omitempty"`
	Tenant      string `json:"tenant"`
	Seq         int64  `json:"seq"`

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
	// PostError says why posting to Event.ReportURL or logging for Event.ReportLog failed. It is
	// set only on the copy returned to the caller (a delivered copy cannot carry its own
	// delivery result).
	PostError string `json:"postError,omitempty"`

	// S3 holds one entry per S3 operation the probe attempted for Event.S3, in order.
	S3 []S3Attempt `json:"s3,omitempty"`
	// S3CredFingerprint is the fingerprint of the credentials Event.S3 delivered: never the
	// credentials themselves.
	S3CredFingerprint string `json:"s3CredFingerprint,omitempty"`
	// S3CredsSeen lists the credential fingerprints this environment already held (in its
	// credential cache) when the invocation began. One planted by another tenant means that
	// tenant's credentials reached this tenant's environment.
	S3CredsSeen []S3CredSeen `json:"s3CredsSeen,omitempty"`

	// RuntimeAPI is this environment's own AWS_LAMBDA_RUNTIME_API, so the runner can offer it
	// to other tenants' probes as a door to try.
	RuntimeAPI string `json:"runtimeApi,omitempty"`
	// PeerAttempts holds one entry per Event.RuntimeAPIPeers address the probe tried, in order.
	PeerAttempts []PeerAttempt `json:"peerAttempts,omitempty"`

	// Inbox is this environment's own inbox, so the runner can offer it to other tenants'
	// probes; Deposits holds one entry per Event.InboxPeers socket the probe tried, in order.
	Inbox    *Inbox    `json:"inbox,omitempty"`
	Deposits []Deposit `json:"deposits,omitempty"`
	// FrontDoor holds the calls made for Event.FrontDoor.
	FrontDoor []FrontDoorAttempt `json:"frontDoor,omitempty"`
	// Memory is what came of Event.Memory; nil when none was asked.
	Memory *MemoryAttempt `json:"memory,omitempty"`
}

// Outcomes of a PeerAttempt. Refused, reset and closed mean the peer's Runtime API would not
// talk to this environment; answered and held mean it did, which is a breach.
const (
	PeerRefused  = "refused"  // nothing listens there (any more)
	PeerReset    = "reset"    // accepted, then reset before any response byte
	PeerClosed   = "closed"   // accepted, then closed before any response byte
	PeerAnswered = "answered" // sent HTTP response bytes
	PeerHeld     = "held"     // kept the request open without a byte: a /next long-poll in progress
	PeerError    = "error"    // anything else; Detail says what
)

// PeerAttempt is one try at another environment's Runtime API. It never carries what the peer
// sent beyond its status line and request ID: an answered /next holds another tenant's event.
type PeerAttempt struct {
	Addr    string `json:"addr"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// S3 operation names, as recorded in S3Attempt.Op.
const (
	S3GetObject     = "GetObject"
	S3PutObject     = "PutObject"
	S3ListObjectsV2 = "ListObjectsV2"
	S3DeleteObject  = "DeleteObject"
	S3CopyObject    = "CopyObject"
)

// S3Request is the authorizer's output as the function receives it: short-lived credentials
// for one tenant, and where that tenant's (and the other tenants') data lives.
type S3Request struct {
	// Endpoint is the S3 (and STS) endpoint URL; "" means AWS's own endpoints for Region.
	Endpoint  string `json:"endpoint,omitempty"`
	Region    string `json:"region"`
	PathStyle bool   `json:"pathStyle,omitempty"`
	// Mechanism says how the credentials were scoped ("session-policy/bucket",
	// "session-policy/prefix", "session-tags/bucket"), so a finding names the mechanism that
	// failed.
	Mechanism   string        `json:"mechanism"`
	Credentials S3Credentials `json:"credentials"`
	// Own is the invoking tenant's data; Others are every other tenant's.
	Own    S3Target   `json:"own"`
	Others []S3Target `json:"others"`
}

// S3Credentials are real credentials on the wire. String, GoString and Format print only a
// fingerprint, so a stray %v in a log line or error cannot leak them.
type S3Credentials struct {
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	SessionToken    string    `json:"sessionToken"`
	Expiration      time.Time `json:"expiration"`
}

// S3Target is one tenant's data: a bucket, or a prefix in a shared bucket, holding Key, an
// object whose body is a per-run secret. Only the secret's fingerprint travels.
type S3Target struct {
	Tenant            string `json:"tenant"`
	Bucket            string `json:"bucket"`
	Prefix            string `json:"prefix,omitempty"`
	Key               string `json:"key"`
	SecretFingerprint string `json:"secretFingerprint"`
}

// S3Attempt is one S3 call the probe made and how it ended.
type S3Attempt struct {
	Op        string `json:"op"`
	Mechanism string `json:"mechanism"`
	// Tenant owns the data the call touched (for CopyObject, the source); Own is true when
	// that is the invoking tenant.
	Tenant string `json:"tenant"`
	Own    bool   `json:"own"`
	Bucket string `json:"bucket"`
	Key    string `json:"key,omitempty"`
	// Allowed is true when the call succeeded.
	Allowed    bool   `json:"allowed"`
	ErrorCode  string `json:"errorCode,omitempty"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	// Error is the error text with every credential and secret replaced by its fingerprint.
	Error string `json:"error,omitempty"`
	// BodyFingerprint is the fingerprint of what GetObject returned, to compare with the
	// target's SecretFingerprint; Keys is how many keys ListObjectsV2 returned.
	BodyFingerprint string        `json:"bodyFingerprint,omitempty"`
	Keys            int           `json:"keys,omitempty"`
	Duration        time.Duration `json:"durationNs"`
	// OutOfTime is true when the call failed because the invocation's own deadline passed
	// first: it says nothing about access, so it is not evidence either way.
	OutOfTime bool `json:"outOfTime,omitempty"`
}

// S3CredSeen is a credential fingerprint found in an environment's credential cache, with the
// invocation that left it there.
type S3CredSeen struct {
	Fingerprint string `json:"fingerprint"`
	RunID       string `json:"runId"`
	Tenant      string `json:"tenant"`
	EnvID       string `json:"envId"`
	RequestID   string `json:"requestId"`
	Seq         int64  `json:"seq"`
}
