package runner

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// s3Echo is a fake target: it decodes the event, answers a report naming the credentials'
// fingerprint, and fails one tenant's invocations with an error that quotes the secret key.
type s3Echo struct {
	mu     sync.Mutex
	events []probes.Event
}

func (f *s3Echo) Invoke(_ context.Context, req InvokeRequest) (InvokeResponse, error) {
	var ev probes.Event
	if err := json.Unmarshal(req.Payload, &ev); err != nil {
		return InvokeResponse{}, err
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	if req.Tenant == "bad" {
		return InvokeResponse{}, errors.New("target refused a request signed with " + ev.S3.Credentials.SecretAccessKey)
	}
	rep := probes.Report{Schema: probes.SchemaVersion, EnvID: "env-" + req.Tenant, Tenant: ev.Tenant, Seq: ev.Seq,
		S3CredFingerprint: ev.S3.Credentials.Fingerprint()}
	b, _ := json.Marshal(rep)
	return InvokeResponse{StatusCode: 200, Payload: b}, nil
}

func s3TestPhase(tenants ...string) S3Phase {
	ph := S3Phase{Backend: "fake"}
	for i, tn := range tenants {
		own := probes.S3Target{Tenant: tn, Bucket: "b" + tn, Key: "k", SecretFingerprint: probes.Fingerprint("s" + tn)}
		ph.Tenants = append(ph.Tenants, S3Tenant{ID: tn, Requests: []probes.S3Request{{
			Region: "us-east-1", Mechanism: "m", Own: own,
			Credentials: probes.S3Credentials{AccessKeyID: "AKID" + tn, SecretAccessKey: "SECRET-" + tn + strings.Repeat("x", i+8)},
		}}})
	}
	return ph
}

func TestRunS3InvokesEveryTenantEachRoundAndRedactsErrors(t *testing.T) {
	inv := &s3Echo{}
	ph := s3TestPhase("blue", "green", "bad")
	obs, err := RunS3(context.Background(), inv, S3Options{Function: "f", RunID: "run", Phase: ph, Rounds: 2, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Items) != 6 || len(inv.events) != 6 {
		t.Fatalf("%d observations, %d invocations; want 6 (3 tenants x 2 rounds)", len(obs.Items), len(inv.events))
	}
	for i, o := range obs.Items {
		if o.Seq != int64(i+1) || o.Schedule != "s3" {
			t.Errorf("item %d: seq %d schedule %q", i, o.Seq, o.Schedule)
		}
		switch o.Tenant {
		case "bad":
			if o.Err == "" || strings.Contains(o.Err, "SECRET-") || !strings.Contains(o.Err, "fp:") {
				t.Errorf("error not redacted to a fingerprint: %q", o.Err)
			}
		default:
			if o.Report == nil || o.Report.S3CredFingerprint != probes.Fingerprint("AKID"+o.Tenant) {
				t.Errorf("%s: report %+v", o.Tenant, o.Report)
			}
		}
	}
	for _, ev := range inv.events {
		if ev.RunID != "run" || ev.S3 == nil || ev.S3.Own.Tenant != ev.Tenant {
			t.Errorf("event %+v does not carry its tenant's request", ev)
		}
	}
	if len(obs.Targets) != 3 || obs.Backend != "fake" {
		t.Errorf("targets %v, backend %q", obs.Targets, obs.Backend)
	}
	js, _ := json.Marshal(obs)
	if strings.Contains(string(js), "SECRET-") || strings.Contains(string(js), "AKIDblue") {
		t.Errorf("observations carry a credential: %s", js)
	}
}

func TestRunS3RefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		inv  Invoker
		opts S3Options
		want string
	}{
		{"nil invoker", nil, S3Options{Function: "f", Phase: s3TestPhase("a", "b")}, "nil invoker"},
		{"no function", &s3Echo{}, S3Options{Phase: s3TestPhase("a", "b")}, "no function"},
		{"one tenant", &s3Echo{}, S3Options{Function: "f", Phase: s3TestPhase("a")}, "at least 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunS3(context.Background(), tc.inv, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRunS3StopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	obs, err := RunS3(ctx, &s3Echo{}, S3Options{Function: "f", Phase: s3TestPhase("a", "b")})
	if !errors.Is(err, context.Canceled) || obs == nil || len(obs.Items) != 0 {
		t.Errorf("obs %v err %v; want no invocations and context.Canceled", obs, err)
	}
}

// scriptedInvoker answers each Invoke with the next of its reports, as a sync probe would.
type scriptedInvoker struct {
	reports []*probes.Report
	calls   int
}

func (s *scriptedInvoker) Invoke(_ context.Context, _ InvokeRequest) (InvokeResponse, error) {
	rep := s.reports[min(s.calls, len(s.reports)-1)]
	s.calls++
	b, err := json.Marshal(rep)
	return InvokeResponse{StatusCode: 200, Payload: b}, err
}

// TestInvokeS3RetriesWhatRanOutOfTime: an S3 invocation whose calls the function's deadline cut
// short is made again (at most s3Tries times in all); one whose calls were answered, even
// refused, is not.
func TestInvokeS3RetriesWhatRanOutOfTime(t *testing.T) {
	late := &probes.Report{Schema: probes.SchemaVersion, EnvID: "e1", S3: []probes.S3Attempt{{Op: probes.S3GetObject, OutOfTime: true, Error: "context deadline exceeded"}}}
	denied := &probes.Report{Schema: probes.SchemaVersion, EnvID: "e2", S3: []probes.S3Attempt{{Op: probes.S3GetObject, ErrorCode: "AccessDenied"}}}
	tests := []struct {
		name      string
		script    []*probes.Report
		wantCalls int
		wantEnv   string
	}{
		{"answered at once", []*probes.Report{denied}, 1, "e2"},
		{"late, then answered", []*probes.Report{late, denied}, 2, "e2"},
		{"late every time", []*probes.Report{late}, s3Tries, "e1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &scriptedInvoker{reports: tt.script}
			ob := &Observation{Seq: 7, Schedule: "s3", Tenant: "blue"}
			invokeS3(t.Context(), inv, S3Options{Function: "f", Invoke: time.Second}, ob, probes.S3Request{})
			if inv.calls != tt.wantCalls || ob.Report == nil || ob.Report.EnvID != tt.wantEnv || ob.Seq != 7 || ob.Retries != tt.wantCalls-1 {
				t.Errorf("%d calls, report %+v, seq %d, retries %d; want %d calls ending in %s", inv.calls, ob.Report, ob.Seq, ob.Retries, tt.wantCalls, tt.wantEnv)
			}
		})
	}
}
