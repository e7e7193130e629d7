package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// TestRecordRoundTrip writes a record the way a run does (invocations finishing out of order,
// phases after the schedules) and reads it back whole.
func TestRecordRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	info := RunInfo{Tool: "tenantcheck", Seed: 7, Replay: "tenantcheck run --seed=7", Target: "built-in", Checks: []string{"TI-MEM-001"}}
	rec := NewRecord(&buf, info)
	started := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	obs := &Observations{RunID: "r1", Seed: 7, Tenants: []string{"a", "b"}, Pairs: map[string]string{"a": "case"}, Started: started}
	rec.begin(obs)
	for _, seq := range []int64{2, 1, 3} { // finish order, not issue order
		rec.invocation(&Observation{Seq: seq, Tenant: "a", Opportunity: seq != 1, Report: &probes.Report{Schema: probes.SchemaVersion, EnvID: "e"}})
	}
	rec.retries(2, []*probes.Report{{EnvID: "retry-1"}, {EnvID: "retry-2"}})
	rec.Contract(&ContractObservations{NotRun: "not here"})
	rec.Logs(&LogsObservation{Group: "/aws/lambda/f"})
	rec.S3(SkippedS3("no backend"))
	rec.Target(TargetInfo{Endpoint: "built-in", Isolation: &Isolation{Level: "full"}})
	rec.Gap(Gap{Area: "isolation", Reason: "phase timeout"})
	buf.WriteString(`{"kind":"future","future":{"x":1}}` + "\n") // a kind a newer tenantcheck adds
	obs.Opportunities, obs.Elapsed = 2, time.Second
	if err := rec.End(obs, 3*time.Second); err != nil {
		t.Fatal(err)
	}

	got, err := ReadRecord(&buf)
	if err != nil {
		t.Fatal(err)
	}
	o := got.Obs
	switch {
	case !got.Complete || got.ReportElapsed != 3*time.Second:
		t.Errorf("complete %v report elapsed %v", got.Complete, got.ReportElapsed)
	case got.Info.Seed != 7 || got.Info.Replay != info.Replay || len(got.Info.Checks) != 1:
		t.Errorf("info %+v", got.Info)
	case o.RunID != "r1" || !o.Started.Equal(started) || o.Pairs["a"] != "case" || o.Opportunities != 2 || o.Elapsed != time.Second:
		t.Errorf("run identity %+v", o)
	case len(o.Items) != 3 || o.Items[0].Seq != 1 || o.Items[2].Seq != 3 || o.Items[1].Report == nil:
		t.Errorf("items %+v, want seqs 1..3 in order with reports", o.Items)
	case len(o.Items[1].AsyncRetries) != 2 || o.Items[1].AsyncRetries[1].EnvID != "retry-2" || o.Items[0].AsyncRetries != nil:
		t.Errorf("retries of seq 2: %+v", o.Items[1].AsyncRetries)
	case o.Contract == nil || o.Logs == nil || o.S3 == nil || o.S3.Skipped != "no backend":
		t.Errorf("phases: contract %v logs %v s3 %v", o.Contract, o.Logs, o.S3)
	case o.Target.Isolation == nil || o.Target.Isolation.Level != "full":
		t.Errorf("target %+v", o.Target)
	case len(o.Incomplete) != 1 || o.Incomplete[0].Reason != "phase timeout":
		t.Errorf("gaps %+v", o.Incomplete)
	}
}

// TestReadRecordCutShort reads the record of a run killed mid-write: every whole line counts,
// the half line is dropped, and a gap says the record is incomplete.
func TestReadRecordCutShort(t *testing.T) {
	var buf bytes.Buffer
	rec := NewRecord(&buf, RunInfo{Tool: "tenantcheck"})
	rec.begin(&Observations{RunID: "r1", Tenants: []string{"a", "b"}})
	rec.invocation(&Observation{Seq: 1, Tenant: "a", Opportunity: true})
	rec.invocation(&Observation{Seq: 2, Tenant: "b", Opportunity: true})
	whole := buf.String()
	cut := whole[:len(whole)-10]
	rec.retries(2, []*probes.Report{{EnvID: "retry"}})
	rec.retrySummary(&AsyncRetries{Failed: 1, Expected: 2, Received: 1})
	retried := buf.String() // stopped after the retries, before the target line
	tests := []struct {
		name  string
		input string
		items int
		why   string
	}{
		{"no end line", whole, 2, "no end line"},
		{"half-written last line", cut, 1, "half-written"},
		{"after the retries", retried, 2, "no end line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadRecord(strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if got.Complete || len(got.Obs.Items) != tc.items || got.Obs.Opportunities != tc.items {
				t.Errorf("complete %v items %d opportunities %d, want incomplete with %d", got.Complete, len(got.Obs.Items), got.Obs.Opportunities, tc.items)
			}
			if len(got.Obs.Incomplete) != 1 || !strings.Contains(got.Obs.Incomplete[0].Reason, tc.why) || got.Obs.Incomplete[0].Area != "" {
				t.Errorf("gaps %+v, want one for every area saying %q", got.Obs.Incomplete, tc.why)
			}
			if tc.input == retried {
				if r := got.Obs.Target.AsyncRetries; r == nil || r.Received != 1 || len(got.Obs.Items[1].AsyncRetries) != 1 {
					t.Errorf("retry summary %+v, retries of seq 2 %+v: want the summary and one retry", r, got.Obs.Items[1].AsyncRetries)
				}
			}
		})
	}
}

func TestReadRecordErrors(t *testing.T) {
	head := `{"kind":"header","version":1,"run":{"tool":"tenantcheck"}}` + "\n"
	tests := []struct{ name, input, want string }{
		{"empty", "", "empty"},
		{"not a header", `{"kind":"begin"}` + "\n", "not a header"},
		{"newer version", `{"kind":"header","version":2,"run":{}}` + "\n", "version 2"},
		{"damaged middle line", head + "{\n" + `{"kind":"end","end":{}}` + "\n", "line 2"},
		{"no isolation run", head + `{"kind":"end","end":{}}` + "\n", "no isolation run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadRecord(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestRunStreamsEveryInvocation checks that Run hands every finished invocation to the record,
// so the file holds what the returned observations hold.
func TestRunStreamsEveryInvocation(t *testing.T) {
	var buf bytes.Buffer
	rec := NewRecord(&buf, RunInfo{Tool: "tenantcheck"})
	obs, err := Run(t.Context(), newFakeTarget(), Options{Function: "fn", Invocations: 60, Seed: 3, Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecord(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Obs.Items) != len(obs.Items) || got.Obs.RunID != obs.RunID {
		t.Fatalf("record holds %d invocations of run %s, the run made %d of %s", len(got.Obs.Items), got.Obs.RunID, len(obs.Items), obs.RunID)
	}
	for i := range obs.Items {
		if got.Obs.Items[i].Seq != obs.Items[i].Seq || got.Obs.Items[i].Tenant != obs.Items[i].Tenant ||
			(got.Obs.Items[i].Report == nil) != (obs.Items[i].Report == nil) {
			t.Errorf("item %d: recorded %+v, observed %+v", i, got.Obs.Items[i], obs.Items[i])
		}
	}
}
