package probes

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// What the probe writes to its log for every invocation. The log checks (suites, area logs)
// recognise the lines by these names, so they are wire schema like Report: never rename one.
const (
	// LogMessage is the message of the probe's one application log line per invocation.
	LogMessage = "tenantcheck probe invocation"
	// MetricNamespace, MetricName and MetricDimension describe the one Embedded Metric Format
	// record per invocation: a count of 1 in MetricNamespace/MetricName with a MetricDimension
	// dimension, the per-tenant metric the Tenant Isolation guide asks functions to emit.
	MetricNamespace = "tenantcheck"
	MetricName      = "Invocations"
	MetricDimension = "TenantId"
)

// invocationLog writes the probe's per-invocation log line and metric.
//
// The log line goes through aws-lambda-go's slog handler with WithTenantID, as the Tenant
// Isolation guide tells OS-only runtimes to log: Lambda does not rewrite a custom runtime's
// output, so the handler itself must add "tenantId" (from the invocation's context, i.e. what
// the target told the runtime). With AWS_LAMBDA_LOG_FORMAT=JSON the handler writes JSON; that is
// what the log checks read, and why the probe is deployed with LogFormat JSON.
type invocationLog struct {
	logger  *slog.Logger
	metrics io.Writer
	now     func() time.Time
}

// newInvocationLog logs to standard output, which the target captures into the environment's
// log stream.
func newInvocationLog() *invocationLog {
	return &invocationLog{
		logger:  slog.New(lambdacontext.NewLogHandler(lambdacontext.WithTenantID())),
		metrics: os.Stdout,
		now:     time.Now,
	}
}

// record writes both lines. It runs before the probe scans, plants or acts, so invocations
// that time out or crash are logged too. The event's run ID and sequence number travel in both
// lines, so the runner can tie each line to the invocation it made (its ground truth) even when
// that invocation returned no report.
func (l *invocationLog) record(ctx context.Context, ev Event, envID string, cold bool) {
	if l == nil {
		return
	}
	l.logger.InfoContext(ctx, LogMessage, "runId", ev.RunID, "seq", ev.Seq, "envId", envID, "cold", cold)
	var requestID, tenant string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID, tenant = lc.AwsRequestID, lc.TenantID
	}
	_, _ = l.metrics.Write(EMFLine(l.now(), tenant, requestID, ev.RunID, ev.Seq))
}

// emfDirective is the "_aws" member of an Embedded Metric Format record.
type emfDirective struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfMetricSet `json:"CloudWatchMetrics"`
}

type emfMetricSet struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// EMFLine is one Embedded Metric Format record, newline-terminated: a count of 1 for MetricName
// with the tenant as MetricDimension. CloudWatch turns such a log line into a metric; request
// ID, run ID and sequence number are extra properties that only the log line keeps, so the
// runner can match the metric to its invocation. It is written with one Write, so concurrent
// invocations cannot interleave their records.
func EMFLine(now time.Time, tenant, requestID, runID string, seq int64) []byte {
	rec := struct {
		AWS       emfDirective `json:"_aws"`
		TenantID  string       `json:"TenantId"`
		Count     int          `json:"Invocations"`
		RequestID string       `json:"requestId"`
		RunID     string       `json:"runId"`
		Seq       int64        `json:"seq"`
	}{
		AWS: emfDirective{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []emfMetricSet{{
				Namespace:  MetricNamespace,
				Dimensions: [][]string{{MetricDimension}},
				Metrics:    []emfMetric{{Name: MetricName, Unit: "Count"}},
			}},
		},
		TenantID: tenant, Count: 1, RequestID: requestID, RunID: runID, Seq: seq,
	}
	b, _ := json.Marshal(rec) // plain strings and numbers: cannot fail
	return append(b, '\n')
}
