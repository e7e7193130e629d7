package runner

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/tenantcheck/tenantcheck/probes"
)

// Values of Options.AsyncChannel and ContractOptions.AsyncChannel: how the reports of Event
// invocations, which have no response body, reach the runner.
const (
	// AsyncChannelSink: the probe POSTs its report to a loopback ReportSink. Works only when the
	// runner and the target share loopback (the built-in target, local emulators).
	AsyncChannelSink = "sink"
	// AsyncChannelLogs: the probe writes its report to its log (probes.Event.ReportLog) and the
	// runner reads it back through the CloudWatch Logs API. Works on AWS, and on any target
	// that serves FilterLogEvents with JSON filter patterns (the built-in target does).
	AsyncChannelLogs = "logs"
	// AsyncChannelNone: Event invocations are made, but their reports are not collected.
	AsyncChannelNone = "none"
)

const (
	// logPollFirst and logPollMax are the first and the longest pause between two reads of a
	// log group while someone waits. FilterLogEvents is rate-limited per account and region, so
	// the pause backs off whenever a read brings nothing new.
	logPollFirst = 250 * time.Millisecond
	logPollMax   = 2 * time.Second
	// logPollTimeout bounds one read (all its pages).
	logPollTimeout = 30 * time.Second
)

// asyncChannel is how an Event invocation's report reaches the runner, so Run and RunContract
// do not care which channel a target allows.
type asyncChannel interface {
	// prepare sets the event fields that tell the probe where to deliver its report; ev.RunID
	// is already set.
	prepare(ev *probes.Event)
	// wait returns the report of invocation (runID, seq) of function, waiting up to timeout.
	// Every error wraps ErrAsyncReportMissing.
	wait(ctx context.Context, function, runID string, seq int64, timeout time.Duration) (*probes.Report, error)
	// dropped counts deliveries refused because they lacked their invocation's token.
	dropped() int
	close() error
}

// openAsyncChannel starts the channel named by name; nil (and no error) for AsyncChannelNone.
// group is the log group of the logs channel, "" for each function's default group.
//
// fwd, when set, makes the sink reachable from inside the target's environments while it is open.
func openAsyncChannel(ctx context.Context, name string, logs LogsClient, group string, since time.Time, fwd Forwarder) (asyncChannel, error) {
	if err := checkAsyncChannel(name, logs); err != nil {
		return nil, err
	}
	switch name {
	case AsyncChannelNone:
		return nil, nil
	case AsyncChannelSink:
		s, err := NewReportSink()
		if err != nil {
			return nil, err
		}
		if fwd != nil {
			undo, err := fwd.Forward(ctx, s.ln.Addr().String())
			if err != nil {
				_ = s.Close()
				return nil, fmt.Errorf("report sink: %w", err)
			}
			return sinkChannel{s: s, undo: undo}, nil
		}
		return sinkChannel{s: s}, nil
	default:
		return newLogChannel(logs, group, since), nil
	}
}

// checkAsyncChannel refuses an unknown channel name, and the logs channel without a client.
func checkAsyncChannel(name string, logs LogsClient) error {
	switch name {
	case AsyncChannelNone, AsyncChannelSink:
		return nil
	case AsyncChannelLogs:
		if logs == nil {
			return errors.New("async channel logs needs a CloudWatch Logs client")
		}
		return nil
	}
	return fmt.Errorf("unknown async channel %q (want %s, %s or %s)", name, AsyncChannelSink, AsyncChannelLogs, AsyncChannelNone)
}

// resolveAsyncChannel maps the options to a channel name: an explicit choice wins, otherwise
// the older ReportSink flag means the sink.
func resolveAsyncChannel(channel string, sink bool) string {
	switch {
	case channel != "":
		return channel
	case sink:
		return AsyncChannelSink
	}
	return AsyncChannelNone
}

// asyncErrText is what an observation records for a report that did not arrive.
func asyncErrText(err error) string {
	if errors.Is(err, ErrAsyncReportMissing) {
		return err.Error()
	}
	return fmt.Sprintf("%v: %v", ErrAsyncReportMissing, err)
}

// sinkChannel is the ReportSink as an asyncChannel.
type sinkChannel struct {
	s    *ReportSink
	undo func() // withdraws the sink's forward; nil when there is none
}

func (c sinkChannel) prepare(ev *probes.Event) {
	ev.ReportURL, ev.ReportToken = c.s.ReportURL(ev.RunID), newReportToken()
	c.s.Expect(ev.RunID, ev.Seq, ev.ReportToken)
}

func (c sinkChannel) dropped() int { return c.s.Dropped() }

func (c sinkChannel) retries(ctx context.Context, _, runID string, _ time.Time, want map[int64]int, timeout time.Duration) (map[int64][]*probes.Report, string) {
	return c.s.retries(ctx, runID, want, timeout), ""
}

// newReportToken returns a fresh secret for one invocation's report.
func newReportToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

func (c sinkChannel) wait(ctx context.Context, _ string, runID string, seq int64, timeout time.Duration) (*probes.Report, error) {
	rep, err := c.s.wait(ctx, runID, seq, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAsyncReportMissing, err)
	}
	return rep, nil
}

func (c sinkChannel) close() error {
	if c.undo != nil {
		c.undo()
	}
	return c.s.Close()
}

// logChannel collects report lines (probes.ReportLogLine) from the functions' log groups.
//
// One poller per (log group, run) reads FilterLogEvents with probes.ReportLogPattern from the
// oldest pending wait, only while at least one wait is pending, so a run with many Event invocations in
// flight makes one stream of reads, not one per invocation. Every read covers the window from the
// oldest pending wait (less the clock-skew allowance) again, because CloudWatch may make an early
// line searchable after a later one; lines already seen are recognised by event ID. The first line of an invocation answers it; later ones (Lambda
// retrying an Event invocation) are counted as duplicates, as the sink does.
type logChannel struct {
	client  LogsClient
	group   string // "" means LogGroupName of the waited-for function
	sinceMs int64
	// pollFirst and pollMax are logPollFirst and logPollMax; tests shorten them.
	pollFirst, pollMax time.Duration

	ctx     context.Context // cancelled by close: stops pollers and waits
	cancel  context.CancelFunc
	pollers sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	entries arrivals
	polls   map[pollKey]*logPoller
	seen    map[string]bool // event IDs already taken in
	ignored int             // lines the filter returned that were not this run's reports
}

type pollKey struct{ group, runID string }

// logPoller is the state of one (group, run) poller; the channel's mu guards it.
type logPoller struct {
	waiters int
	polls   int
	lastErr error
	// pending counts the waits by the time (unix ms, less the clock-skew allowance) they
	// began. A read starts at the oldest of them: a report cannot be logged before its
	// invocation was made, so a long run does not page through every line it ever logged
	// on every read.
	pending map[int64]int
}

// windowStart is where a read of p starts: the oldest pending wait, never before since.
func (p *logPoller) windowStart(since int64) int64 {
	start := int64(0)
	for ms := range p.pending {
		if start == 0 || ms < start {
			start = ms
		}
	}
	return max(start, since)
}

func newLogChannel(client LogsClient, group string, since time.Time) *logChannel {
	ctx, cancel := context.WithCancel(context.Background())
	return &logChannel{
		client: client, group: group, sinceMs: since.Add(-clockSkew).UnixMilli(),
		pollFirst: logPollFirst, pollMax: logPollMax, ctx: ctx, cancel: cancel,
		entries: newArrivals(), polls: map[pollKey]*logPoller{}, seen: map[string]bool{},
	}
}

func (c *logChannel) prepare(ev *probes.Event) {
	ev.ReportLog, ev.ReportToken = true, newReportToken()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.expect(sinkKey{ev.RunID, ev.Seq}, ev.ReportToken)
}

func (c *logChannel) dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.dropped
}

func (c *logChannel) wait(ctx context.Context, function, runID string, seq int64, timeout time.Duration) (*probes.Report, error) {
	group := c.group
	if group == "" {
		group = LogGroupName(function)
	}
	k := pollKey{group, runID}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: the log channel is closed", ErrAsyncReportMissing)
	}
	e := c.entries.entry(sinkKey{runID, seq})
	select {
	case <-e.arrived: // taken in by a read made for another wait
		defer c.mu.Unlock()
		return e.result()
	default:
	}
	p, unwatch := c.watchLocked(k, time.Now())
	c.mu.Unlock()
	defer unwatch()

	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.arrived:
		c.mu.Lock()
		defer c.mu.Unlock()
		return e.result()
	case <-t.C:
		c.mu.Lock()
		defer c.mu.Unlock()
		why := ""
		if p.lastErr != nil {
			why = fmt.Sprintf("; last read: %v", p.lastErr)
		}
		return nil, fmt.Errorf("%w: no report line in log group %s within %v (%d reads%s)",
			ErrAsyncReportMissing, group, timeout, p.polls, why)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrAsyncReportMissing, ctx.Err())
	case <-c.ctx.Done():
		return nil, fmt.Errorf("%w: the log channel was closed", ErrAsyncReportMissing)
	}
}

// watchLocked makes k's poller read from since (less the clock-skew allowance) on, starting the
// poller if none runs, until unwatch. The caller holds c.mu; unwatch takes it.
func (c *logChannel) watchLocked(k pollKey, since time.Time) (p *logPoller, unwatch func()) {
	p = c.polls[k]
	if p == nil {
		p = &logPoller{pending: map[int64]int{}}
		c.polls[k] = p
		c.pollers.Add(1)
		go c.run(k, p)
	}
	p.waiters++
	began := since.Add(-clockSkew).UnixMilli()
	p.pending[began]++
	return p, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		p.waiters--
		if p.pending[began]--; p.pending[began] == 0 {
			delete(p.pending, began)
		}
	}
}

// retries waits until every invocation of want (seq -> retries expected) has had that many
// report lines beyond its first, or until timeout, reading function's log group from since (the
// first of those invocations) on, and returns the repeats that arrived. Lambda logs each attempt
// of an Event invocation as a line of its own, with the same run, seq and token.
//
// readErr is the last read's error, if it failed: a wait that ends short of retries because the
// logs could not be read says so.
func (c *logChannel) retries(ctx context.Context, function, runID string, since time.Time, want map[int64]int, timeout time.Duration) (got map[int64][]*probes.Report, readErr string) {
	group := c.group
	if group == "" {
		group = LogGroupName(function)
	}
	seqs := make([]int64, 0, len(want))
	for seq := range want {
		seqs = append(seqs, seq)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, "the log channel is closed"
	}
	p, unwatch := c.watchLocked(pollKey{group, runID}, since)
	c.mu.Unlock()
	defer unwatch()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		c.mu.Lock()
		got, next := c.entries.repeatsOf(runID, seqs)
		if p.lastErr != nil {
			readErr = p.lastErr.Error()
		} else {
			readErr = ""
		}
		c.mu.Unlock()
		if allRetried(got, want) {
			return got, ""
		}
		select {
		case <-next:
		case <-t.C:
			return got, readErr
		case <-ctx.Done():
			return got, readErr
		case <-c.ctx.Done():
			return got, readErr
		}
	}
}

// allRetried reports whether got holds at least the retries want expects of every invocation.
func allRetried(got map[int64][]*probes.Report, want map[int64]int) bool {
	for seq, n := range want {
		if len(got[seq]) < n {
			return false
		}
	}
	return true
}

// run reads k's log group until nobody waits on it any more. The number of reads is bounded by
// the waits: each wait is bounded by its timeout, and every read is at least pollFirst apart.
func (c *logChannel) run(k pollKey, p *logPoller) {
	defer c.pollers.Done()
	pause := c.pollFirst
	for {
		if sleepCtx(c.ctx, pause) != nil {
			return
		}
		c.mu.Lock()
		if p.waiters == 0 {
			// Deleted under the same lock a new wait takes to look for a poller, so a wait
			// either finds this one still counting it or starts its own.
			delete(c.polls, k)
			c.mu.Unlock()
			return
		}
		start := p.windowStart(c.sinceMs)
		c.mu.Unlock()
		fresh, err := c.poll(k, start)
		c.mu.Lock()
		p.polls++
		p.lastErr = err
		c.mu.Unlock()
		if fresh > 0 {
			pause = c.pollFirst // reports are flowing: the next ones are probably close behind
		} else {
			pause = min(2*pause, c.pollMax)
		}
	}
}

// poll reads the report lines of k once and returns how many new ones it took in. A log group
// that does not exist yet (no invocation has logged) is not an error.
func (c *logChannel) poll(k pollKey, startMs int64) (int, error) {
	ctx, cancel := context.WithTimeout(c.ctx, logPollTimeout)
	defer cancel()
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(k.group),
		StartTime:     aws.Int64(startMs),
		FilterPattern: aws.String(probes.ReportLogPattern(k.runID)),
	}
	fresh := 0
	err := forEachFiltered(ctx, c.client, in, func(e types.FilteredLogEvent) bool {
		if c.take(k.runID, e) {
			fresh++
		}
		return true
	})
	if err != nil && isNotFound(err) {
		return fresh, fmt.Errorf("log group %s does not exist yet", k.group)
	}
	return fresh, err
}

// take records one filtered event; it reports whether the event was a line not seen before.
func (c *logChannel) take(runID string, e types.FilteredLogEvent) bool {
	msg := aws.ToString(e.Message)
	id := aws.ToString(e.EventId)
	if id == "" { // not every emulator sends IDs: the event's own content then identifies it
		sum := sha256.Sum256([]byte(msg))
		id = aws.ToString(e.LogStreamName) + "/" + strconv.FormatInt(aws.ToInt64(e.Timestamp), 10) + "/" + string(sum[:])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[id] {
		return false
	}
	c.seen[id] = true
	rep, logErr, ok := probes.ParseReportLog(msg)
	var gotRun, token string
	var seq int64
	switch {
	case rep != nil:
		gotRun, seq, token = rep.RunID, rep.Seq, rep.ReportToken
		rep.ReportToken = ""
	case logErr != nil:
		gotRun, seq, token = logErr.RunID, logErr.Seq, logErr.ReportToken
		logErr.ReportToken = ""
	}
	if !ok || gotRun != runID {
		// The filter is the target's: a sloppy one must not make another run's line (or a
		// line that merely quotes a run ID) answer this run's invocation.
		c.ignored++
		return false
	}
	c.entries.record(sinkKey{runID, seq}, token, rep, logErr)
	return true
}

// duplicates counts report lines beyond the first for the same invocation of run runID.
func (c *logChannel) duplicates(runID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.duplicates(runID)
}

// close stops every poller and ends pending waits.
func (c *logChannel) close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.pollers.Wait()
	return nil
}
