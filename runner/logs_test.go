package runner

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator/cwlogs"
	"github.com/tenantcheck/tenantcheck/probes"
)

// logDir writes streams in the built-in target's layout; each call appends.
type logDir struct {
	t   *testing.T
	dir string
	mu  sync.Mutex
}

func (d *logDir) write(group, stream string, msgs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := filepath.Join(d.dir, url.PathEscape(group))
	if err := os.MkdirAll(g, 0o700); err != nil {
		d.t.Error(err)
		return
	}
	f, err := os.OpenFile(filepath.Join(g, url.PathEscape(stream)+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		d.t.Error(err)
		return
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, m := range msgs {
		_ = enc.Encode(map[string]any{"timestamp": time.Now().UnixMilli(), "message": m})
	}
}

func logsClient(t *testing.T, dir string) *cloudwatchlogs.Client {
	srv := httptest.NewServer(cwlogs.New(cwlogs.Config{Dir: dir}))
	t.Cleanup(srv.Close)
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		HTTPClient:  &http.Client{Timeout: 10 * time.Second},
	})
}

func platform(typ, reqID, tenant string) string {
	b, _ := json.Marshal(map[string]any{"time": "2026-01-01T00:00:00.000Z", "type": typ,
		"record": map[string]any{"requestId": reqID, "tenantId": tenant}})
	return string(b)
}

func appLine(reqID, tenant string) string {
	b, _ := json.Marshal(map[string]any{"level": "INFO", "message": "invocation", "requestId": reqID, "tenantId": tenant})
	return string(b)
}

// invocation writes one invocation's lines, REPORT last, as Lambda does.
func (d *logDir) invocation(stream, reqID, tenant string) {
	d.write("/aws/lambda/probe", stream, platform("platform.start", reqID, tenant), appLine(reqID, tenant),
		strings.TrimSuffix(string(probes.EMFLine(time.Now(), tenant, reqID, "run1", 1)), "\n"),
		platform("platform.report", reqID, tenant))
}

func runObs(items ...[2]string) *Observations {
	obs := &Observations{RunID: "run1", Started: time.Now(), Tenants: []string{"blue", "green", "wild*"}}
	for i, it := range items {
		obs.Items = append(obs.Items, Observation{Seq: int64(i + 1), Tenant: it[1],
			Report: &probes.Report{RequestID: it[0], Tenant: it[1]}})
	}
	return obs
}

func TestCollectLogsComplete(t *testing.T) {
	d := &logDir{t: t, dir: t.TempDir()}
	d.invocation("s-blue", "r1", "blue")
	d.invocation("s-blue", "r2", "blue")
	d.invocation("s-green", "r3", "green")
	d.write("/aws/lambda/other", "x", platform("platform.report", "r9", "blue"))
	// An async report line (the logs channel) is tenantcheck's transport, not an app line.
	rep, _, err := probes.ReportLogLine(&probes.Report{RunID: "run1", Tenant: "green", Seq: 9, RequestID: "r9"})
	if err != nil {
		t.Fatal(err)
	}
	d.write("/aws/lambda/probe", "s-green", strings.TrimSuffix(string(rep), "\n"))
	obs := runObs([2]string{"r1", "blue"}, [2]string{"r2", "blue"}, [2]string{"r3", "green"})
	if err := CollectLogs(context.Background(), logsClient(t, d.dir), "arn:aws:lambda:us-east-1:1:function:probe:live", obs, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	lo := obs.Logs
	if !lo.Complete || lo.Polls != 1 || lo.Expected != 3 || len(lo.Missing) != 0 || lo.Group != "/aws/lambda/probe" {
		t.Fatalf("logs %+v", lo)
	}
	// Complete logs and complete filters need no waiting. (The EMF line's "TenantId" once
	// counted as a "tenantId", so every filter looked short and waited out the deadline.)
	if lo.Waited > 5*time.Second {
		t.Errorf("waited %s for logs that were all there", lo.Waited)
	}
	counts := map[string]int{}
	for _, s := range lo.Streams {
		counts[s.Name] = len(s.Events)
	}
	if counts["s-blue"] != 8 || counts["s-green"] != 4 || len(counts) != 2 || lo.ReportLines != 1 {
		t.Errorf("streams %v, report lines %d (want 8 and 4 events, the report line counted apart)", counts, lo.ReportLines)
	}
	filters := map[string]TenantFilter{}
	for _, f := range lo.Filters {
		filters[f.Tenant] = f
	}
	if f := filters["blue"]; len(f.Events) != 2 || f.Pattern != `{ $.tenantId = "blue" }` || f.Err != "" {
		t.Errorf("blue filter %+v", f)
	}
	if f := filters["green"]; len(f.Events) != 1 || f.Events[0].Stream != "s-green" {
		t.Errorf("green filter %+v", f)
	}
	if f := filters["wild*"]; f.Skipped == "" || len(f.Events) != 0 {
		t.Errorf("a wildcard tenant must be skipped, got %+v", f)
	}
}

func TestCollectLogsWaitsForLateReports(t *testing.T) {
	d := &logDir{t: t, dir: t.TempDir()}
	d.invocation("s-blue", "r1", "blue")
	d.write("/aws/lambda/probe", "s-green", platform("platform.start", "r2", "green"))
	// Ingestion lag: the rest of green's lines arrive only once the first read has been answered.
	client := &afterFirstRead{LogsClient: logsClient(t, d.dir), read: make(chan struct{})}
	done := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(done)
		select {
		case <-client.read:
		case <-stop:
			return
		}
		d.write("/aws/lambda/probe", "s-green", appLine("r2", "green"), platform("platform.report", "r2", "green"))
	}()
	obs := runObs([2]string{"r1", "blue"}, [2]string{"r2", "green"})
	if err := CollectLogs(context.Background(), client, "probe", obs, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	<-done
	if !obs.Logs.Complete || obs.Logs.Polls < 2 {
		t.Fatalf("want completion after polling, got complete=%v polls=%d", obs.Logs.Complete, obs.Logs.Polls)
	}
	n := 0
	for _, s := range obs.Logs.Streams {
		n += len(s.Events)
	}
	if n != 7 {
		t.Errorf("want 7 events without duplicates across polls, got %d", n)
	}
}

// afterFirstRead closes read once the first FilterLogEvents call has been answered.
type afterFirstRead struct {
	LogsClient
	once sync.Once
	read chan struct{}
}

func (c *afterFirstRead) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	out, err := c.LogsClient.FilterLogEvents(ctx, in, opts...)
	c.once.Do(func() { close(c.read) })
	return out, err
}

func TestCollectLogsBoundedWait(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(d *logDir)
		wantMissing []string
		groupGone   bool
	}{
		{name: "a report never arrives", setup: func(d *logDir) { d.invocation("s", "r1", "blue") }, wantMissing: []string{"r2"}},
		{name: "no log group at all", setup: func(*logDir) {}, wantMissing: []string{"r1", "r2"}, groupGone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &logDir{t: t, dir: t.TempDir()}
			tt.setup(d)
			obs := runObs([2]string{"r1", "blue"}, [2]string{"r2", "blue"})
			start := time.Now()
			if err := CollectLogs(context.Background(), logsClient(t, d.dir), "probe", obs, 600*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("wait not bounded: %s", took)
			}
			lo := obs.Logs
			if lo.Complete || strings.Join(lo.Missing, ",") != strings.Join(tt.wantMissing, ",") || lo.GroupMissing != tt.groupGone {
				t.Errorf("complete=%v missing=%v groupMissing=%v", lo.Complete, lo.Missing, lo.GroupMissing)
			}
		})
	}
}

func TestCollectLogsCancelled(t *testing.T) {
	d := &logDir{t: t, dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	obs := runObs([2]string{"r1", "blue"})
	err := CollectLogs(ctx, logsClient(t, d.dir), "probe", obs, time.Minute)
	if err == nil || obs.Logs.Err == "" {
		t.Fatalf("want a context error recorded, got %v / %q", err, obs.Logs.Err)
	}
}

func TestLogGroupName(t *testing.T) {
	tests := map[string]string{
		"probe":      "/aws/lambda/probe",
		"probe:live": "/aws/lambda/probe",
		"arn:aws:lambda:us-east-1:123456789012:function:probe":   "/aws/lambda/probe",
		"arn:aws:lambda:us-east-1:123456789012:function:probe:7": "/aws/lambda/probe",
		"123456789012:function:probe":                            "/aws/lambda/probe",
	}
	for in, want := range tests {
		if got := LogGroupName(in); got != want {
			t.Errorf("LogGroupName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportRequestID(t *testing.T) {
	tests := []struct {
		msg, want string
		ok        bool
	}{
		{platform("platform.report", "r1", "t"), "r1", true},
		{platform("platform.start", "r1", "t"), "", false},
		{"REPORT RequestId: 6f1c\tDuration: 1.00 ms\t\n", "6f1c", true},
		{"START RequestId: 6f1c Version: $LATEST\n", "", false},
		{`{"message":"platform.report mentioned"}`, "", false},
	}
	for _, tt := range tests {
		got, ok := reportRequestID(tt.msg)
		if got != tt.want || ok != tt.ok {
			t.Errorf("reportRequestID(%q) = %q, %v", tt.msg, got, ok)
		}
	}
}
