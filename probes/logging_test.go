package probes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// loggingChildEnv makes TestProbeLogsJSON act as the child that logs.
const loggingChildEnv = "TENANTCHECK_LOGGING_TEST_CHILD"

// TestProbeLogsJSON runs the probe's handler in a child process with AWS_LAMBDA_LOG_FORMAT=JSON
// (aws-lambda-go reads it once, at package init, so only a fresh process can switch format) and
// checks what lands on standard output, which is what a Lambda target puts in the log stream.
func TestProbeLogsJSON(t *testing.T) {
	if os.Getenv(loggingChildEnv) == "1" {
		logAsChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProbeLogsJSON$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_LOG_FORMAT=JSON", loggingChildEnv+"=1")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}

	type line = map[string]any
	var app, emf []line
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // the test framework's own output
		}
		if _, ok := l["_aws"]; ok {
			emf = append(emf, l)
		} else if l["message"] == LogMessage {
			app = append(app, l)
		}
	}
	want := []struct{ tenant, requestID string }{{"blue", "req-1"}, {"Blue", "req-2"}, {"", "req-3"}}
	if len(app) != len(want) || len(emf) != len(want) {
		t.Fatalf("want %d app and EMF lines, got %d and %d:\n%s", len(want), len(app), len(emf), out)
	}
	for i, w := range want {
		a := app[i]
		tenant, has := a["tenantId"]
		if w.tenant == "" && has || w.tenant != "" && tenant != w.tenant {
			t.Errorf("line %d: tenantId %v (present %v), want %q", i, tenant, has, w.tenant)
		}
		if a["requestId"] != w.requestID || a["runId"] != "run-log" || a["seq"] != float64(i+1) || a["level"] != "INFO" ||
			a["envId"] == "" || a["timestamp"] == nil || a["cold"] != (i == 0) {
			t.Errorf("line %d: %v", i, a)
		}
		e := emf[i]
		if e["TenantId"] != w.tenant || e["requestId"] != w.requestID || e["seq"] != float64(i+1) || e["Invocations"] != float64(1) {
			t.Errorf("EMF %d: %v", i, e)
		}
	}
}

// logAsChild drives three invocations through a real Probe's Handle.
func logAsChild(t *testing.T) {
	p := newTestProbe(t, newRoots(t))
	for i, inv := range []struct{ tenant, requestID string }{{"blue", "req-1"}, {"Blue", "req-2"}, {"", "req-3"}} {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
			AwsRequestID: inv.requestID, TenantID: inv.tenant,
		})
		if _, err := p.Handle(ctx, Event{Schema: SchemaVersion, RunID: "run-log", Tenant: inv.tenant, Seq: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEMFLine(t *testing.T) {
	now := time.UnixMilli(1767225600123)
	b := EMFLine(now, "org:prod", "req-9", "run-1", 42)
	if !bytes.HasSuffix(b, []byte("\n")) || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("want one newline-terminated line: %q", b)
	}
	var rec struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	var props map[string]any
	_ = json.Unmarshal(b, &props)
	if rec.AWS.Timestamp != now.UnixMilli() || len(rec.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("directive %+v", rec.AWS)
	}
	ms := rec.AWS.CloudWatchMetrics[0]
	if ms.Namespace != MetricNamespace || len(ms.Dimensions) != 1 || strings.Join(ms.Dimensions[0], ",") != MetricDimension ||
		len(ms.Metrics) != 1 || ms.Metrics[0].Name != MetricName || ms.Metrics[0].Unit != "Count" {
		t.Errorf("metric set %+v", ms)
	}
	// EMF requires every dimension and metric named in the directive as a top-level member.
	if props[MetricDimension] != "org:prod" || props[MetricName] != float64(1) ||
		props["requestId"] != "req-9" || props["runId"] != "run-1" || props["seq"] != float64(42) {
		t.Errorf("members %v", props)
	}
}
