package runner

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator/cwlogs"
	"github.com/tenantcheck/tenantcheck/probes"
)

// fakeLogs is an in-memory FilterLogEvents: two events a page, StartTime honoured, and the
// filter pattern applied with the built-in target's parser unless sloppy is set (then every
// event of the group is returned, as a careless target might).
type fakeLogs struct {
	sloppy bool
	err    error // answered to every call when set

	mu     sync.Mutex
	groups map[string][]types.FilteredLogEvent
	ids    int

	calls, inflight, maxInflight atomic.Int64
	lastIn                       atomic.Pointer[cloudwatchlogs.FilterLogEventsInput]
}

func newFakeLogs() *fakeLogs { return &fakeLogs{groups: map[string][]types.FilteredLogEvent{}} }

func (f *fakeLogs) add(group, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids++
	f.groups[group] = append(f.groups[group], types.FilteredLogEvent{
		EventId: aws.String(strconv.Itoa(f.ids)), LogStreamName: aws.String("stream"),
		Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String(msg),
	})
}

func (f *fakeLogs) addReport(t testing.TB, group string, rep *probes.Report) {
	t.Helper()
	line, _, err := probes.ReportLogLine(rep)
	if err != nil {
		t.Fatal(err)
	}
	f.add(group, string(line))
}

func (f *fakeLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.calls.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for m := f.maxInflight.Load(); n > m && !f.maxInflight.CompareAndSwap(m, n); m = f.maxInflight.Load() {
	}
	f.lastIn.Store(in)
	if f.err != nil {
		return nil, f.err
	}
	pat, err := cwlogs.ParsePattern(aws.ToString(in.FilterPattern))
	if err != nil {
		return nil, &types.InvalidParameterException{Message: aws.String(err.Error())}
	}
	f.mu.Lock()
	evs, ok := f.groups[aws.ToString(in.LogGroupName)]
	evs = append([]types.FilteredLogEvent(nil), evs...)
	f.mu.Unlock()
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	var match []types.FilteredLogEvent
	for _, e := range evs {
		if aws.ToInt64(e.Timestamp) >= aws.ToInt64(in.StartTime) && (f.sloppy || pat.Match(aws.ToString(e.Message))) {
			match = append(match, e)
		}
	}
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	out := &cloudwatchlogs.FilterLogEventsOutput{Events: match[min(from, len(match)):min(from+2, len(match))]}
	if from+2 < len(match) {
		out.NextToken = aws.String(strconv.Itoa(from + 2))
	}
	return out, nil
}

func fastLogChannel(f *fakeLogs, group string) *logChannel {
	c := newLogChannel(f, group, time.Now())
	c.pollFirst, c.pollMax = 5*time.Millisecond, 20*time.Millisecond
	return c
}

func testReport(runID string, seq int64, tenant string) *probes.Report {
	return &probes.Report{Schema: probes.SchemaVersion, EnvID: "env-" + tenant, RunID: runID, Seq: seq,
		Tenant: tenant, ContextTenant: tenant, RequestID: "req-" + strconv.FormatInt(seq, 10)}
}

func TestLogChannelWait(t *testing.T) {
	const run, group = "0011223344556677", "/aws/lambda/probe"
	tooBig := testReport(run, 1, "blue")
	tooBig.PeerAttempts = []probes.PeerAttempt{{Detail: strings.Repeat("d", probes.MaxReportLogLine)}}
	tests := []struct {
		name    string
		sloppy  bool
		before  func(t *testing.T, f *fakeLogs) // lines there before the wait
		during  func(t *testing.T, f *fakeLogs) // lines written while it waits
		timeout time.Duration
		wantErr string // "" wants the report of seq 1 for "blue"
		wantDup int
		token   string // the secret invocation 1 was given ("" none)
		dropped int    // lines refused for lacking it
	}{
		{name: "arrives while waiting", timeout: 5 * time.Second,
			before: func(t *testing.T, f *fakeLogs) { f.add(group, "START RequestId: x") },
			during: func(t *testing.T, f *fakeLogs) {
				f.addReport(t, group, testReport(run, 2, "green"))
				f.addReport(t, group, testReport(run, 1, "blue"))
			}},
		{name: "already there", timeout: 5 * time.Second,
			before: func(t *testing.T, f *fakeLogs) { f.addReport(t, group, testReport(run, 1, "blue")) }},
		{name: "duplicate counted, first kept", timeout: 5 * time.Second,
			before: func(t *testing.T, f *fakeLogs) {
				f.addReport(t, group, testReport(run, 1, "blue"))
				f.addReport(t, group, testReport(run, 1, "red")) // Lambda's retry of the Event
			}, wantDup: 1},
		{name: "log group appears late", timeout: 5 * time.Second,
			during: func(t *testing.T, f *fakeLogs) { f.addReport(t, group, testReport(run, 1, "blue")) }},
		{name: "timeout", timeout: 60 * time.Millisecond,
			before:  func(t *testing.T, f *fakeLogs) { f.addReport(t, group, testReport(run, 2, "blue")) },
			wantErr: "no report line in log group " + group},
		// These two judge what a finished read saw, so their waits leave a loaded machine
		// time for one (the waits run out either way).
		{name: "no log group", timeout: 2 * time.Second, wantErr: "does not exist yet"},
		{name: "wrong run ignored even by a sloppy filter", sloppy: true, timeout: 2 * time.Second,
			before: func(t *testing.T, f *fakeLogs) {
				f.addReport(t, group, testReport("ffffffffffffffff", 1, "blue"))
				f.add(group, `{"tenantcheckReport":"`+run+`"}`)
				f.add(group, `{"msg":"quotes `+run+` tenantcheckReport"}`)
			}, wantErr: "no report line"},
		{name: "a line without the invocation's secret is dropped", timeout: 5 * time.Second, token: "s1", dropped: 2,
			before: func(t *testing.T, f *fakeLogs) {
				f.addReport(t, group, testReport(run, 1, "red")) // another function answering for blue
				forged := testReport(run, 1, "red")
				forged.ReportToken = "guess"
				f.addReport(t, group, forged)
			},
			during: func(t *testing.T, f *fakeLogs) {
				genuine := testReport(run, 1, "blue")
				genuine.ReportToken = "s1"
				f.addReport(t, group, genuine)
			}},
		{name: "error line ends the wait at once", timeout: time.Minute,
			during:  func(t *testing.T, f *fakeLogs) { f.add(group, mustLine(t, tooBig)) },
			wantErr: "probe could not log its report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLogs()
			f.sloppy = tt.sloppy
			if tt.before != nil {
				tt.before(t, f)
			}
			c := fastLogChannel(f, "")
			defer c.close()
			if tt.token != "" {
				c.mu.Lock()
				c.entries.expect(sinkKey{run, 1}, tt.token)
				c.mu.Unlock()
			}
			if tt.during != nil {
				go func() {
					time.Sleep(30 * time.Millisecond)
					tt.during(t, f)
				}()
			}
			rep, err := c.wait(context.Background(), "arn:aws:lambda:us-east-1:123456789012:function:probe:live", run, 1, tt.timeout)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrAsyncReportMissing) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("wait = %v, %v; want ErrAsyncReportMissing with %q", rep, err, tt.wantErr)
				}
				c.mu.Lock()
				ignored := c.ignored
				c.mu.Unlock()
				if tt.sloppy && ignored != 3 {
					t.Errorf("%d lines ignored, want the 3 that are not this run's reports", ignored)
				}
				return
			}
			if err != nil || rep == nil || rep.Seq != 1 || rep.Tenant != "blue" || rep.RunID != run {
				t.Fatalf("wait = %+v, %v; want blue's report of seq 1", rep, err)
			}
			// A read starts at the wait's own start less the skew allowance: never before the
			// run's (sinceMs), never after now less the allowance.
			in := f.lastIn.Load()
			start, latest := aws.ToInt64(in.StartTime), time.Now().Add(-clockSkew).UnixMilli()
			if aws.ToString(in.LogGroupName) != group || aws.ToString(in.FilterPattern) != probes.ReportLogPattern(run) ||
				start < c.sinceMs || start > latest {
				t.Errorf("read group %s pattern %s start %d, want a start within [%d, %d]",
					aws.ToString(in.LogGroupName), aws.ToString(in.FilterPattern), start, c.sinceMs, latest)
			}
			// The wait returns on the first line; close waits for the read that brought it,
			// whose page also holds the duplicate.
			if err := c.close(); err != nil {
				t.Fatal(err)
			}
			if got := c.duplicates(run); got != tt.wantDup {
				t.Errorf("duplicates = %d, want %d", got, tt.wantDup)
			}
			if got := c.dropped(); got != tt.dropped {
				t.Errorf("dropped = %d, want %d", got, tt.dropped)
			}
			if rep.ReportToken != "" {
				t.Errorf("the report kept its token %q", rep.ReportToken)
			}
		})
	}
}

func mustLine(t *testing.T, rep *probes.Report) string {
	t.Helper()
	line, _, _ := probes.ReportLogLine(rep)
	return string(line)
}

// TestLogChannelOnePollerPerGroup: many concurrent waits on one group share one stream of reads,
// the reads stop once nobody waits, and close ends pending waits.
func TestLogChannelOnePollerPerGroup(t *testing.T) {
	const run, group = "0011223344556677", "/aws/lambda/probe"
	f := newFakeLogs()
	f.add(group, "START")
	c := fastLogChannel(f, group)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.wait(context.Background(), "ignored", run, int64(i+1), 5*time.Second)
		})
	}
	time.Sleep(50 * time.Millisecond)
	for i := range n {
		f.addReport(t, group, testReport(run, int64(i+1), "blue"))
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("seq %d: %v", i+1, err)
		}
	}
	if m := f.maxInflight.Load(); m != 1 {
		t.Errorf("%d reads of one group at once, want 1", m)
	}
	// Nobody waits: the poller stops, so the read count settles. A running poller reads every
	// 20 ms at most, so a quiet 100 ms window means it stopped; a busy machine may delay the
	// stop, hence several windows before the verdict.
	calls, quiet := f.calls.Load(), false
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		got := f.calls.Load()
		if got == calls {
			quiet = true
			break
		}
		calls = got
	}
	if !quiet {
		t.Errorf("still reading 5 s after every wait ended (%d reads)", calls)
	}

	done := make(chan error, 1)
	go func() {
		_, err := c.wait(context.Background(), "ignored", run, 99, time.Minute)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrAsyncReportMissing) {
			t.Errorf("pending wait after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not end a pending wait")
	}
	if _, err := c.wait(context.Background(), "ignored", run, 100, time.Minute); !errors.Is(err, ErrAsyncReportMissing) {
		t.Errorf("wait after close: %v", err)
	}
}

func TestLogChannelCancelledWait(t *testing.T) {
	f := newFakeLogs()
	c := fastLogChannel(f, "")
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.wait(ctx, "probe", "run", 1, time.Minute)
	if !errors.Is(err, ErrAsyncReportMissing) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait with a cancelled context: %v", err)
	}
}

func TestAsyncChannelOptions(t *testing.T) {
	logs := newFakeLogs()
	tests := []struct {
		name        string
		opts        Options
		wantChannel string
		wantTimeout time.Duration
		wantErr     string
	}{
		{name: "nothing", opts: Options{}, wantChannel: AsyncChannelNone, wantTimeout: 10 * time.Second},
		{name: "old sink flag", opts: Options{ReportSink: true}, wantChannel: AsyncChannelSink, wantTimeout: 10 * time.Second},
		{name: "logs", opts: Options{AsyncChannel: AsyncChannelLogs, Logs: logs}, wantChannel: AsyncChannelLogs, wantTimeout: time.Minute},
		{name: "logs with explicit timeout", opts: Options{AsyncChannel: AsyncChannelLogs, Logs: logs, Timeouts: Timeouts{AsyncReport: 5 * time.Second}},
			wantChannel: AsyncChannelLogs, wantTimeout: 5 * time.Second},
		{name: "explicit none beats the flag", opts: Options{ReportSink: true, AsyncChannel: AsyncChannelNone}, wantChannel: AsyncChannelNone, wantTimeout: 10 * time.Second},
		{name: "logs without client", opts: Options{AsyncChannel: AsyncChannelLogs}, wantChannel: AsyncChannelLogs, wantErr: "needs a CloudWatch Logs client"},
		{name: "unknown", opts: Options{AsyncChannel: "pigeon"}, wantChannel: "pigeon", wantErr: "unknown async channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			once := tt.opts.withDefaults()
			twice := once.withDefaults()
			if twice.AsyncChannel != tt.wantChannel || (tt.wantErr == "" && twice.Timeouts.AsyncReport != tt.wantTimeout) {
				t.Errorf("channel %q timeout %v, want %q %v", twice.AsyncChannel, twice.Timeouts.AsyncReport, tt.wantChannel, tt.wantTimeout)
			}
			tt.opts.Function, tt.opts.Schedules, tt.opts.Invocations = "f", []string{SchedulePingPong}, 2
			_, err := Run(context.Background(), newFakeTarget(), tt.opts)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Run: %v, want error %q", err, tt.wantErr)
			}
		})
	}
}

// TestRunAsyncThroughLogs: with the logs channel, Event invocations ask the probe to log its
// report (and never to post it), and every report is read back from the log group.
func TestRunAsyncThroughLogs(t *testing.T) {
	fake := newFakeTarget()
	fake.logs = newFakeLogs()
	obs, err := Run(context.Background(), fake, Options{
		Function: "probe", Schedules: []string{ScheduleAsync}, Invocations: 8, Seed: 3, ErrorRate: -1,
		AsyncChannel: AsyncChannelLogs, Logs: fake.logs, Timeouts: Timeouts{AsyncReport: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	fake.async.Wait()
	if !obs.Target.AsyncReports || obs.Target.AsyncChannel != AsyncChannelLogs {
		t.Errorf("target: async reports %v through %q", obs.Target.AsyncReports, obs.Target.AsyncChannel)
	}
	async := 0
	for _, ob := range obs.Items {
		if ob.Report == nil || ob.Err != "" || ob.Report.ContextTenant != ob.Tenant || ob.Report.Seq != ob.Seq {
			t.Errorf("seq %d (async %v): report %+v err %q", ob.Seq, ob.Async, ob.Report, ob.Err)
		}
		if ob.Async {
			async++
		}
	}
	if async != 4 {
		t.Errorf("%d async observations, want 4", async)
	}
	for _, req := range fake.requests() {
		var ev probes.Event
		if err := json.Unmarshal(req.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ReportURL != "" || ev.ReportLog != req.Async {
			t.Errorf("seq %d (async %v): reportUrl %q reportLog %v", ev.Seq, req.Async, ev.ReportURL, ev.ReportLog)
		}
	}
}

// TestLogChannelReadsFromTheOldestPendingWait: a read starts at the oldest wait still pending
// (less the clock-skew allowance), not at the run's start, so a long run does not page through
// every line it ever logged on every read.
func TestLogChannelReadsFromTheOldestPendingWait(t *testing.T) {
	const run, group = "0011223344556677", "/aws/lambda/probe"
	f := newFakeLogs()
	f.add(group, "START")
	runStart := time.Now().Add(-time.Hour)
	c := newLogChannel(f, group, runStart)
	c.pollFirst, c.pollMax = 5*time.Millisecond, 20*time.Millisecond
	defer c.close()
	waitStart := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := c.wait(context.Background(), "ignored", run, 1, 5*time.Second)
		done <- err
	}()
	var in *cloudwatchlogs.FilterLogEventsInput
	for range 500 { // up to 5 s for the first read
		if in = f.lastIn.Load(); in != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if in == nil {
		t.Fatal("no read within 5 s of a pending wait")
	}
	if got, floor := aws.ToInt64(in.StartTime), waitStart.Add(-clockSkew).UnixMilli(); got < floor {
		t.Errorf("read starts %s before the wait (less the skew allowance), at the run's start or earlier",
			time.Duration(floor-got)*time.Millisecond)
	}
	f.addReport(t, group, testReport(run, 1, "blue"))
	if err := <-done; err != nil {
		t.Fatalf("wait: %v", err)
	}
}

// TestLogChannelRetries: each attempt of a retried Event invocation logs a report line of its
// own; the lines past the first are its retries, found from the time of the first invocation on
// (they may be logged before the wait for them begins), and the wait ends when all came.
func TestLogChannelRetries(t *testing.T) {
	const run, group = "8899aabbccddeeff", "/aws/lambda/probe"
	f := newFakeLogs()
	c := fastLogChannel(f, group)
	defer c.close()
	since := time.Now()
	evs := []probes.Event{{RunID: run, Seq: 1}, {RunID: run, Seq: 2}}
	for i := range evs {
		c.prepare(&evs[i])
	}
	line := func(seq int64, env string) {
		rep := testReport(run, seq, "blue")
		rep.EnvID, rep.ReportToken = env, evs[seq-1].ReportToken
		f.addReport(t, group, rep)
	}
	line(1, "env-1")
	line(2, "env-2")
	line(1, "env-1-retry1") // logged before anyone waits for it
	if rep, err := c.wait(t.Context(), "probe", run, 1, 5*time.Second); err != nil || rep.EnvID != "env-1" {
		t.Fatalf("first report of seq 1: %+v, %v", rep, err)
	}
	got := make(chan map[int64][]*probes.Report, 1)
	go func() {
		r, _ := c.retries(t.Context(), "probe", run, since, map[int64]int{1: 2, 2: 1}, time.Minute)
		got <- r
	}()
	line(2, "env-2-retry1")
	line(1, "env-1-retry2")
	r := <-got // returns once both retries of seq 1 and the one of seq 2 came, long before the minute
	if len(r[1]) != 2 || len(r[2]) != 1 || r[2][0].EnvID != "env-2-retry1" {
		t.Fatalf("retries %v, want two of seq 1 and env-2-retry1 of seq 2", r)
	}
	envs := []string{r[1][0].EnvID, r[1][1].EnvID}
	slices.Sort(envs)
	if !slices.Equal(envs, []string{"env-1-retry1", "env-1-retry2"}) {
		t.Errorf("retries of seq 1 ran in %v", envs)
	}
	if r, readErr := c.retries(t.Context(), "probe", run, since, map[int64]int{2: 2}, 50*time.Millisecond); len(r[2]) != 1 || readErr != "" {
		t.Errorf("a wait for a retry that never comes: %v (%q), want the one that came", r, readErr)
	}
	denied := newFakeLogs()
	denied.err = errors.New("AccessDeniedException: not authorized to perform logs:FilterLogEvents")
	dc := fastLogChannel(denied, group)
	defer dc.close()
	for i := 0; i < 100; i++ { // bounded: until a read has failed
		if _, readErr := dc.retries(t.Context(), "probe", run, since, map[int64]int{2: 2}, 50*time.Millisecond); readErr != "" {
			if !strings.Contains(readErr, "AccessDenied") {
				t.Errorf("read error %q", readErr)
			}
			return
		}
	}
	t.Error("a failing read never surfaced")
}
