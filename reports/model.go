// Package reports holds the one result model every output format is rendered from.
package reports

import "time"

// SchemaVersion of the JSON report, "MAJOR.MINOR" as docs/REPORT-SCHEMA.md defines: the major
// number changes on any incompatible change, the minor on additions (1.1 added `clauses`).
const SchemaVersion = "1.1"

// Status of one check. Each exists because users must be able to tell it from the others.
type Status string

const (
	// Pass: the check had the chances it needed to see a violation and saw none.
	Pass Status = "PASS"
	// Fail: a MUST clause was violated; evidence says where.
	Fail Status = "FAIL"
	// Warn: a SHOULD clause was violated; reported, never fails the run.
	Warn Status = "WARN"
	// Skip: the check was not run (deselected, or the target cannot support it); reason given.
	Skip Status = "SKIP"
	// Inconclusive: the check ran but the run gave it no power (e.g. no warm reuse observed),
	// so neither PASS nor FAIL would be honest.
	Inconclusive Status = "INCONCLUSIVE"
	// Error: the check could not be judged because the tool or target misbehaved (throttling
	// that outlasted retries, transport failures). Never conflated with FAIL.
	Error Status = "ERROR"
)

// Level is the RFC 2119 strength of the contract clause a check enforces.
type Level string

const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Evidence is one finding, structured so an auditor can trace it and a script can parse it.
type Evidence struct {
	Message string `json:"message"`
	// Fields carries structured facts: canary nonce, planting tenant/request/env, finder, etc.
	Fields map[string]string `json:"fields,omitempty"`
}

// CheckResult is one check's verdict.
type CheckResult struct {
	ID     string `json:"id"`
	Area   string `json:"area"`
	Title  string `json:"title"`
	Level  Level  `json:"level"`
	Clause string `json:"clause"` // docs/CONTRACT.md clause ID the check is filed under
	// Clauses are every docs/CONTRACT.md clause the check enforces, Clause first, since one check
	// can prove several clauses. WriteJSON fills it with Clause alone when it is empty.
	Clauses []string `json:"clauses"`
	// Severity ranks how bad a violation would be (critical, high, medium, low, info), so a
	// triager can order FAILs; it never changes the exit code, Level does.
	Severity    string        `json:"severity,omitempty"`
	Status      Status        `json:"status"`
	Reason      string        `json:"reason,omitempty"` // one line: why this status
	Remediation string        `json:"remediation,omitempty"`
	Evidence    []Evidence    `json:"evidence,omitempty"`
	Duration    time.Duration `json:"durationNs"`
}

// Summary counts statuses and derives the exit code.
type Summary struct {
	Counts   map[Status]int `json:"counts"`
	Verdict  Status         `json:"verdict"`
	ExitCode int            `json:"exitCode"`
	// Total is the number of check results summarized, so counts can be checked for completeness.
	Total int `json:"total"`
	// Reason says in one line why the verdict is what it is (which MUST checks drove it).
	Reason string `json:"reason"`
}

// Power says how strong a PASS is: how many chances to leak the run created.
type Power struct {
	Invocations   int     `json:"invocations"`
	Opportunities int     `json:"opportunities"`
	WarmReuses    int     `json:"warmReuses"`
	DetectP1pct   float64 `json:"detectRecycle1pct"`  // P(catch a recycle fault of rate 1%)
	DetectP01pct  float64 `json:"detectRecycle01pct"` // P(catch a recycle fault of rate 0.1%)
	// KeyRules says which wrong-key rules the run could have caught: a target that found
	// environments by one of them would have handed one tenant's environment to another.
	KeyRules *KeyRuleCoverage `json:"keyRules,omitempty"`
	// Paths counts the invocations by the way they reached the function, every path the runner
	// knows listed, zero where the run did not take it: a PASS speaks only for the paths taken.
	Paths []PathCount `json:"invocationPaths,omitempty"`
}

// PathCount is how many invocations of a run took one path (sync, event, stream; error, crash
// and timeout for the invocations told to end that way, whatever path they came by).
type PathCount struct {
	Path        string `json:"path"`
	Invocations int    `json:"invocations"`
}

// KeyRuleCoverage splits the wrong-key rules (package keyrules) by whether the run invoked, one
// after the other, two tenants whose IDs share a key under the rule.
type KeyRuleCoverage struct {
	Covered    []string `json:"covered"`
	NotCovered []string `json:"notCovered"`
}

// Coverage is the run's statement of what its checks could not reach. A PASS means every
// channel the suite tries was tried and held; it never means the target is sealed. Where the
// environments of different tenants share a kernel, channels through that kernel that no check
// tries remain, and the report names them.
type Coverage struct {
	// SharedKernel is "yes" when environments of different tenants reported one kernel boot
	// ID, "no" when no two tenants' environments did, "unknown" when no probe reported one.
	SharedKernel string `json:"sharedKernel"`
	// Kernels counts the distinct boot IDs seen; Tenants the tenants whose environments
	// reported one.
	Kernels int `json:"kernels"`
	Tenants int `json:"tenants"`
	// NotCovered names the channels no check tried, one line each.
	NotCovered []string `json:"notCovered"`
}

// Report is a whole run's result.
type Report struct {
	SchemaVersion string        `json:"schemaVersion"`
	Tool          string        `json:"tool"`
	ToolVersion   string        `json:"toolVersion"`
	RunID         string        `json:"runId"`
	Seed          int64         `json:"seed"`
	Replay        string        `json:"replay"` // one-line command that replays the run
	Target        string        `json:"target"`
	Function      string        `json:"function"`
	Started       time.Time     `json:"started"`
	Elapsed       time.Duration `json:"elapsedNs"`
	Power         Power         `json:"power"`
	// Coverage says plainly what a PASS of this run does not cover.
	Coverage *Coverage     `json:"coverage,omitempty"`
	Checks   []CheckResult `json:"checks"`
	Summary  Summary       `json:"summary"`
}
