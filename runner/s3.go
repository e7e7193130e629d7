package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// S3Phase is what an S3 fixture (fixtures/s3data) hands the runner: per tenant, the requests an
// authorizer would pass to the function, and facts about the credentials minted for them. It
// holds live credentials and is never recorded; S3Observations keeps only fingerprints.
type S3Phase struct {
	// Backend names the S3/STS service ("seaweedfs http://127.0.0.1:8333", "aws us-east-1").
	Backend string
	// Duration is the credential lifetime the broker asked for.
	Duration time.Duration
	// Faults are the broker faults injected on purpose, so the report says why it failed.
	Faults      []string
	Tenants     []S3Tenant
	Credentials []S3Credential
	// BrokerAccess, when not empty, says what the broker's own identity could do to tenant
	// data: it must have no S3 rights, or a bug that uses its credentials leaks everything.
	BrokerAccess string
}

// S3Tenant is one tenant's S3 invocations: one request per scoping mechanism.
type S3Tenant struct {
	ID       string
	Requests []probes.S3Request
}

// S3Credential describes one minted credential without revealing it.
type S3Credential struct {
	Tenant      string `json:"tenant"`
	Mechanism   string `json:"mechanism"`
	Fingerprint string `json:"fingerprint"`
	// ScopedTo is the bucket or bucket/prefix the session policy or tag names; "" when the
	// broker attached none.
	ScopedTo  string        `json:"scopedTo"`
	Requested time.Duration `json:"requestedNs"`
	// IssuedAt is when the broker sent AssumeRole; Expiration is what STS answered.
	IssuedAt   time.Time `json:"issuedAt"`
	Expiration time.Time `json:"expiration"`
}

// S3Options select what RunS3 does.
type S3Options struct {
	Function  string
	Qualifier string
	// RunID ties the S3 invocations to the main run; "" generates one.
	RunID string
	Phase S3Phase
	// Rounds is how many times every tenant is invoked, round-robin. The second round is what
	// gives TI-S3-004 power: an environment recycled across tenants then still holds the first
	// tenant's credentials. Default 2.
	Rounds int
	// Concurrency bounds invocations in flight within a round. Default: DefaultSettings.
	Concurrency int
	// Invoke bounds one invocation. Default: DefaultSettings.
	Invoke time.Duration
	// Forwarder makes a loopback S3 endpoint reachable from inside the target's environments;
	// nil means the target's own endpoint when the invoker reaches it on loopback.
	Forwarder Forwarder
}

// S3Observations is the record of the S3 phase, the input of the s3 area's checks.
type S3Observations struct {
	// Skipped says why the phase did not run (no backend); the s3 checks then SKIP with it.
	Skipped string `json:"skipped,omitempty"`
	// Failed says why a phase that should have run could not (its backend failed to start, or
	// laying out tenant data or minting credentials failed, throttling included); the s3
	// checks then report ERROR with it, never SKIP, so a gate on the exit code does not pass.
	Failed       string         `json:"failed,omitempty"`
	Backend      string         `json:"backend,omitempty"`
	Duration     time.Duration  `json:"durationNs,omitempty"`
	Faults       []string       `json:"faults,omitempty"`
	Credentials  []S3Credential `json:"credentials,omitempty"`
	BrokerAccess string         `json:"brokerAccess,omitempty"`
	// Targets is every tenant's data (bucket, prefix, key, secret fingerprint), so a check can
	// tell the seeded secret from any other body.
	Targets []probes.S3Target `json:"targets,omitempty"`
	Items   []Observation     `json:"observations,omitempty"`
	Started time.Time         `json:"started"`
	Elapsed time.Duration     `json:"elapsedNs"`
}

// SkippedS3 records that the S3 phase could not run, so the checks SKIP with reason instead
// of passing on nothing.
func SkippedS3(reason string) *S3Observations {
	return &S3Observations{Skipped: reason, Started: time.Now()}
}

// FailedS3 records that the S3 phase should have run but could not, so the checks report
// ERROR with the reason.
func FailedS3(reason string) *S3Observations {
	return &S3Observations{Failed: reason, Started: time.Now()}
}

// RunS3 invokes the function once per tenant, mechanism and round with the tenant's minted
// credentials in the event, and records every report. Rounds run one after another; within a
// round, invocations run up to Concurrency at a time. It returns what it gathered together
// with an error when the context ends early.
func RunS3(ctx context.Context, inv Invoker, opts S3Options) (*S3Observations, error) {
	if inv == nil {
		return nil, errors.New("run s3: nil invoker")
	}
	if opts.Function == "" {
		return nil, errors.New("run s3: no function name")
	}
	if len(opts.Phase.Tenants) < 2 {
		return nil, fmt.Errorf("run s3: %d tenants, need at least 2 to test isolation", len(opts.Phase.Tenants))
	}
	d := DefaultSettings()
	if opts.Rounds <= 0 {
		opts.Rounds = d.S3Rounds
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = d.Concurrency
	}
	if opts.Invoke <= 0 {
		opts.Invoke = d.Invoke
	}
	if opts.RunID == "" {
		id, _, err := newRunIdentity()
		if err != nil {
			return nil, err
		}
		opts.RunID = id
	}
	ph := opts.Phase
	obs := &S3Observations{
		Backend: ph.Backend, Duration: ph.Duration, Faults: append([]string(nil), ph.Faults...),
		Credentials: append([]S3Credential(nil), ph.Credentials...), BrokerAccess: ph.BrokerAccess,
		Started: time.Now(),
	}
	undo, err := forwardS3(ctx, opts.Forwarder, inv, ph)
	if err != nil {
		obs.Failed = fmt.Sprintf("the functions could not be given a way to the S3 service: %v", err)
		return obs, nil
	}
	defer undo()
	secrets := phaseSecrets(ph)
	seen := map[probes.S3Target]bool{}
	for _, t := range ph.Tenants {
		for _, r := range t.Requests {
			if !seen[r.Own] {
				seen[r.Own] = true
				obs.Targets = append(obs.Targets, r.Own)
			}
		}
	}

	type job struct {
		tenant string
		req    probes.S3Request
	}
	var rounds [][]job
	for range opts.Rounds {
		var round []job
		for _, t := range ph.Tenants {
			for _, r := range t.Requests {
				round = append(round, job{tenant: t.ID, req: r})
			}
		}
		rounds = append(rounds, round)
	}

	var seq int64
	for _, round := range rounds {
		if err = ctx.Err(); err != nil {
			break
		}
		items := make([]Observation, len(round))
		sem := make(chan struct{}, opts.Concurrency)
		var wg sync.WaitGroup
		for i, j := range round {
			seq++
			items[i] = Observation{Seq: seq, Schedule: "s3", Tenant: j.tenant}
			sem <- struct{}{}
			wg.Add(1)
			go func(ob *Observation, req probes.S3Request) {
				defer wg.Done()
				defer func() { <-sem }()
				invokeS3(ctx, inv, opts, ob, req)
				ob.Err = probes.Redact(ob.Err, secrets...)
			}(&items[i], j.req)
		}
		wg.Wait()
		obs.Items = append(obs.Items, items...)
	}
	obs.Elapsed = time.Since(obs.Started)
	if err != nil {
		return obs, fmt.Errorf("run s3: stopped after %d invocations: %w", len(obs.Items), err)
	}
	return obs, nil
}

// s3Tries bounds the invocations one S3 request gets: one more, and one more again, when an
// invocation ran out of the function's time before its S3 calls finished (a loaded host).
const s3Tries = 3

func invokeS3(ctx context.Context, inv Invoker, opts S3Options, ob *Observation, req probes.S3Request) {
	payload, err := json.Marshal(probes.Event{
		Schema: probes.SchemaVersion, RunID: opts.RunID, Tenant: ob.Tenant, Seq: ob.Seq, S3: &req,
		SkipCanaries: true, // the S3 calls get the function's whole timeout
	})
	if err != nil {
		ob.Err = fmt.Sprintf("encode event: %v", err)
		return
	}
	for try := 1; ; try++ {
		*ob = Observation{Seq: ob.Seq, Schedule: ob.Schedule, Tenant: ob.Tenant}
		ictx, cancel := context.WithTimeout(ctx, opts.Invoke)
		ob.Start = time.Now()
		resp, err := inv.Invoke(ictx, InvokeRequest{
			Function: opts.Function, Qualifier: opts.Qualifier, Tenant: ob.Tenant, Payload: payload,
		})
		ob.Duration = time.Since(ob.Start)
		cancel()
		record(ob, resp, err)
		ob.Retries += try - 1
		if try == s3Tries || ctx.Err() != nil || !outOfTime(ob) {
			return
		}
	}
}

// outOfTime reports whether an S3 invocation ran out of the function's time: it timed out, or
// its report has a call the invocation's deadline cut short.
func outOfTime(ob *Observation) bool {
	if ob.ErrorType == "Sandbox.Timedout" {
		return true
	}
	if ob.Report == nil {
		return false
	}
	for _, a := range ob.Report.S3 {
		if a.OutOfTime {
			return true
		}
	}
	return false
}

// phaseSecrets lists every credential string in the phase, for redaction.
func phaseSecrets(ph S3Phase) []string {
	var out []string
	for _, t := range ph.Tenants {
		for _, r := range t.Requests {
			c := r.Credentials
			out = append(out, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		}
	}
	return out
}

// forwardS3 forwards every loopback S3 endpoint the phase's requests name, for the phase's
// duration; undo withdraws them.
func forwardS3(ctx context.Context, fwd Forwarder, inv Invoker, ph S3Phase) (undo func(), err error) {
	if fwd == nil {
		fwd = forwarderFor(inv)
	}
	var endpoints []string
	for _, t := range ph.Tenants {
		for _, r := range t.Requests {
			endpoints = append(endpoints, r.Endpoint)
		}
	}
	return forwardEndpoints(ctx, fwd, endpoints...)
}
