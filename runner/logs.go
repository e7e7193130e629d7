package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/tenantcheck/tenantcheck/probes"
)

// LogsClient is the part of the CloudWatch Logs API that CollectLogs uses. *cloudwatchlogs.Client
// satisfies it, pointed at AWS or at the built-in target (BaseEndpoint), so both are read by the
// same code.
type LogsClient interface {
	FilterLogEvents(context.Context, *cloudwatchlogs.FilterLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// LogsObservation is the log group's content for the run's time window, and the per-tenant
// filter results, as the checks judge them.
type LogsObservation struct {
	Group string `json:"group"`
	// SinceMs is the start of the window read (run start less a clock-skew allowance), unix ms.
	SinceMs int64 `json:"sinceMs"`
	// Expected counts the invocations whose platform REPORT the collector waited for (those
	// with a probe report); Missing lists the request IDs whose REPORT never arrived (capped).
	Expected int      `json:"expected"`
	Missing  []string `json:"missingRequestIds,omitempty"`
	// Complete is true when every expected REPORT arrived before the wait ran out.
	Complete bool `json:"complete"`
	// GroupMissing is true when the log group still did not exist when the wait ran out.
	GroupMissing bool          `json:"groupMissing,omitempty"`
	Waited       time.Duration `json:"waitedNs"`
	Polls        int           `json:"polls"`
	// Streams holds every event of the window, by stream, in the order the API returned them.
	Streams []LogStream `json:"streams"`
	// Filters holds, per run tenant, what FilterLogEvents returned for { $.tenantId = "<t>" }.
	Filters []TenantFilter `json:"filters,omitempty"`
	// ReportLines counts the probe's async report lines (probes.ReportLogLine): tenantcheck's
	// own transport through the log, not the function's logging, so they are left out of
	// Streams rather than judged as application lines.
	ReportLines int `json:"reportLines,omitempty"`
	// Truncated is true when the event cap was reached; later events were dropped.
	Truncated bool `json:"truncated,omitempty"`
	// Err says why collection stopped early (an API error other than "not yet there").
	Err string `json:"error,omitempty"`
}

// LogStream is one log stream's events.
type LogStream struct {
	Name   string     `json:"name"`
	Events []LogEvent `json:"events"`
}

// LogEvent is one log event. Messages longer than maxLogMessage are cut and marked.
type LogEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
	Truncated bool   `json:"truncated,omitempty"`
}

// TenantFilter is one tenant's filter query and its answer.
type TenantFilter struct {
	Tenant  string             `json:"tenant"`
	Pattern string             `json:"pattern,omitempty"`
	Events  []FilteredLogEvent `json:"events,omitempty"`
	// Skipped says why the tenant was not filtered on (its ID cannot be written in a pattern
	// without changing its meaning).
	Skipped string `json:"skipped,omitempty"`
	Err     string `json:"error,omitempty"`
}

// FilteredLogEvent is one event a filter returned.
type FilteredLogEvent struct {
	Stream    string `json:"stream"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

const (
	// clockSkew widens the window backwards: the target's clock stamps the events, ours
	// started the run.
	clockSkew = 2 * time.Minute
	// maxLogEvents and maxLogMessage bound what one run records.
	maxLogEvents  = 200_000
	maxLogMessage = 16 * 1024
	maxMissing    = 20
	// maxPages bounds one paginated read, whatever the service answers.
	maxPages = 10_000
	// pollFirst and pollMax are the first and the longest pause between polls.
	pollFirst = 200 * time.Millisecond
	pollMax   = 5 * time.Second
)

// NewLogsClient builds the CloudWatch Logs client CollectLogs reads with: for AWS (endpoint
// empty: the default credential chain and region) or for a target serving the Logs API on its
// own endpoint (the built-in target does, beside the Lambda API), with static dummy credentials
// so no developer credentials reach an emulator. Unlike the Lambda client it keeps the SDK's
// standard retries: log reads are not observations, and FilterLogEvents is rate-limited on AWS.
func NewLogsClient(ctx context.Context, endpoint, region string) (*cloudwatchlogs.Client, error) {
	if endpoint != "" {
		if region == "" {
			region = "us-east-1"
		}
		return cloudwatchlogs.New(cloudwatchlogs.Options{
			Region:       region,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider("tenantcheck", "tenantcheck", ""),
		}), nil
	}
	var loadOpts []func(*config.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("load AWS config: no region set (use --region or AWS_REGION)")
	}
	return cloudwatchlogs.NewFromConfig(cfg), nil
}

// LogGroupName is Lambda's default log group of a function given by name, partial or full ARN
// (a version or alias qualifier is ignored: all versions share the group).
func LogGroupName(function string) string {
	name := function
	if i := strings.Index(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return "/aws/lambda/" + name
}

// CollectLogs reads the function's default log group (see LogGroupName) into obs.Logs; see
// CollectLogGroup.
func CollectLogs(ctx context.Context, client LogsClient, function string, obs *Observations, wait time.Duration) error {
	return CollectLogGroup(ctx, client, LogGroupName(function), obs, wait)
}

// CollectLogGroup is ReadLogGroup storing its result in obs.Logs.
func CollectLogGroup(ctx context.Context, client LogsClient, group string, obs *Observations, wait time.Duration) error {
	lo, err := ReadLogGroup(ctx, client, group, obs, wait)
	if obs != nil {
		obs.Logs = lo
	}
	return err
}

// ReadLogGroup reads the log group's events from the run's start onwards, then asks
// FilterLogEvents for each run tenant's lines. It only reads obs (the run's start, tenants and
// reports), so the logs phase returns its own result.
//
// CloudWatch ingests with a lag, so it polls, backing off from 200 ms to 5 s, until the platform
// REPORT of every invocation that produced a probe report has arrived (a REPORT is the last line
// Lambda writes for an invocation, so everything before it is in) or wait has passed. Running out
// of time is not an error: the result says what is missing and the checks weigh it. A missing log
// group counts as "not yet" while waiting. Other API errors stop collection, are recorded in the
// result's Err and returned with it.
func ReadLogGroup(ctx context.Context, client LogsClient, group string, obs *Observations, wait time.Duration) (*LogsObservation, error) {
	if obs == nil {
		return nil, errors.New("collect logs: no observations")
	}
	start := time.Now()
	lo := &LogsObservation{Group: group, SinceMs: obs.Started.Add(-clockSkew).UnixMilli(), Streams: []LogStream{}}
	c := &collector{client: client, lo: lo, seen: map[string]bool{}, streams: map[string]int{}, reports: map[string]bool{}}
	expected := expectedRequests(obs)
	lo.Expected = len(expected)
	deadline := start.Add(wait)
	pause := pollFirst
	for {
		lo.Polls++
		err := c.poll(ctx)
		if err != nil && !isNotFound(err) {
			return lo, c.fail(start, fmt.Errorf("collect logs from %s: %w", group, err))
		}
		missing := c.missing(expected)
		lo.GroupMissing = err != nil
		lo.Complete = err == nil && len(missing) == 0
		if lo.Complete || !time.Now().Before(deadline) || lo.Truncated {
			lo.Missing = capList(missing, maxMissing)
			break
		}
		if err := sleepCtx(ctx, min(pause, time.Until(deadline))); err != nil {
			return lo, c.fail(start, fmt.Errorf("collect logs from %s: %w", group, err))
		}
		pause = min(2*pause, pollMax)
	}
	if lo.GroupMissing {
		lo.Waited = time.Since(start)
		return lo, nil
	}
	if err := c.filterTenants(ctx, obs.Tenants, deadline); err != nil {
		return lo, c.fail(start, fmt.Errorf("collect logs from %s: %w", group, err))
	}
	lo.Waited = time.Since(start)
	return lo, nil
}

type collector struct {
	client  LogsClient
	lo      *LogsObservation
	seen    map[string]bool // event IDs already recorded
	streams map[string]int  // stream name -> index in lo.Streams
	reports map[string]bool // request IDs whose platform REPORT was seen
	events  int
}

func (c *collector) fail(start time.Time, err error) error {
	c.lo.Err = err.Error()
	c.lo.Waited = time.Since(start)
	return err
}

// poll reads the whole window again, keeping only events not seen before: CloudWatch may ingest
// an early event after a later one, so reading on from the newest timestamp could miss it.
func (c *collector) poll(ctx context.Context) error {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(c.lo.Group), StartTime: aws.Int64(c.lo.SinceMs)}
	return forEachFiltered(ctx, c.client, in, func(e types.FilteredLogEvent) bool {
		id := aws.ToString(e.EventId)
		if c.seen[id] {
			return true
		}
		if c.events == maxLogEvents {
			c.lo.Truncated = true
			return false
		}
		c.seen[id] = true
		c.events++
		c.add(aws.ToString(e.LogStreamName), aws.ToInt64(e.Timestamp), aws.ToString(e.Message))
		return true
	})
}

func (c *collector) add(stream string, ts int64, msg string) {
	if isReportLine(msg) {
		c.lo.ReportLines++
		return
	}
	if id, ok := reportRequestID(msg); ok {
		c.reports[id] = true
	}
	ev := LogEvent{Timestamp: ts, Message: msg}
	if len(msg) > maxLogMessage {
		ev.Message, ev.Truncated = msg[:maxLogMessage], true
	}
	i, ok := c.streams[stream]
	if !ok {
		i = len(c.lo.Streams)
		c.streams[stream] = i
		c.lo.Streams = append(c.lo.Streams, LogStream{Name: stream})
	}
	c.lo.Streams[i].Events = append(c.lo.Streams[i].Events, ev)
}

// isReportLine recognises a probe report line by its top-level key, without decoding the report.
func isReportLine(msg string) bool { return probes.IsReportLogLine(msg) }

func (c *collector) missing(expected []string) []string {
	var out []string
	for _, id := range expected {
		if !c.reports[id] {
			out = append(out, id)
		}
	}
	return out
}

// filterTenants asks for each run tenant's lines. A tenant whose lines the full read holds is
// asked again (until the deadline) while the filter returns fewer of them: the filter index may
// trail the stream.
func (c *collector) filterTenants(ctx context.Context, tenants []string, deadline time.Time) error {
	declared := c.declaredTenants()
	for _, t := range tenants {
		tf := TenantFilter{Tenant: t}
		if why := unfilterable(t); why != "" {
			tf.Skipped = why
			c.lo.Filters = append(c.lo.Filters, tf)
			continue
		}
		tf.Pattern = TenantPattern(t)
		pause := pollFirst
		for {
			tf.Events = tf.Events[:0]
			in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(c.lo.Group),
				StartTime: aws.Int64(c.lo.SinceMs), FilterPattern: aws.String(tf.Pattern)}
			err := forEachFiltered(ctx, c.client, in, func(e types.FilteredLogEvent) bool {
				tf.Events = append(tf.Events, FilteredLogEvent{Stream: aws.ToString(e.LogStreamName),
					Timestamp: aws.ToInt64(e.Timestamp), Message: aws.ToString(e.Message)})
				return len(tf.Events) < maxLogEvents
			})
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				tf.Err = err.Error() // one tenant's failure is evidence, not the end of the run
				break
			}
			if len(tf.Events) >= declared[t] || !time.Now().Before(deadline) {
				break
			}
			if err := sleepCtx(ctx, min(pause, time.Until(deadline))); err != nil {
				return err
			}
			pause = min(2*pause, pollMax)
		}
		c.lo.Filters = append(c.lo.Filters, tf)
	}
	return nil
}

// declaredTenants counts, per top-level tenantId, the JSON events of the full read.
func (c *collector) declaredTenants() map[string]int {
	out := map[string]int{}
	for _, s := range c.lo.Streams {
		for _, e := range s.Events {
			// A map, not a struct: encoding/json matches struct tags case-insensitively, and
			// the EMF line's "TenantId" must not count as a "tenantId".
			var m map[string]json.RawMessage
			var t string
			if json.Unmarshal([]byte(e.Message), &m) == nil && json.Unmarshal(m["tenantId"], &t) == nil {
				out[t]++
			}
		}
	}
	return out
}

// TenantPattern is the filter pattern that selects one tenant's application lines.
func TenantPattern(tenant string) string {
	return `{ $.tenantId = "` + tenant + `" }`
}

// unfilterable says why a tenant ID cannot be put in a pattern: * is a wildcard in CloudWatch
// patterns (it would select other tenants too) and quoting rules for " and \ are unspecified.
func unfilterable(t string) string {
	switch {
	case t == "":
		return "empty tenant ID"
	case strings.ContainsAny(t, `*"\`):
		return "tenant ID contains *, \" or \\, which a filter pattern cannot express literally"
	}
	return ""
}

func forEachFiltered(ctx context.Context, client LogsClient, in *cloudwatchlogs.FilterLogEventsInput, fn func(types.FilteredLogEvent) bool) error {
	p := cloudwatchlogs.NewFilterLogEventsPaginator(client, in)
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxPages {
			return fmt.Errorf("filter log events: more than %d pages", maxPages)
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("filter log events: %w", err)
		}
		for _, e := range out.Events {
			if !fn(e) {
				return nil
			}
		}
	}
	return nil
}

// reportRequestID recognises the platform REPORT of an invocation, JSON or text format.
func reportRequestID(msg string) (string, bool) {
	if rest, ok := strings.CutPrefix(msg, "REPORT RequestId: "); ok {
		id, _, _ := strings.Cut(rest, "\t")
		return strings.TrimSpace(id), true
	}
	if !strings.Contains(msg, "platform.report") {
		return "", false
	}
	var rec struct {
		Type   string `json:"type"`
		Record struct {
			RequestID string `json:"requestId"`
		} `json:"record"`
	}
	if json.Unmarshal([]byte(msg), &rec) != nil || rec.Type != "platform.report" || rec.Record.RequestID == "" {
		return "", false
	}
	return rec.Record.RequestID, true
}

// expectedRequests lists the request IDs whose logs must arrive: invocations with a report.
func expectedRequests(obs *Observations) []string {
	seen := map[string]bool{}
	var out []string
	for i := range obs.Items {
		if r := obs.Items[i].Report; r != nil && r.RequestID != "" && !seen[r.RequestID] {
			seen[r.RequestID] = true
			out = append(out, r.RequestID)
		}
	}
	sort.Strings(out)
	return out
}

func isNotFound(err error) bool {
	var rnf *types.ResourceNotFoundException
	return errors.As(err, &rnf)
}

func capList(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(list[:n:n], "... and "+strconv.Itoa(len(list)-n)+" more")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
