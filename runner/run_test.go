package runner

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

func TestRunAllSchedules(t *testing.T) {
	fake := newFakeTarget()
	prog := &countingProgress{}
	opts := Options{
		Function: "probe", Qualifier: "live", Invocations: 120, Concurrency: 3, Seed: 11,
		ReportSink: true, Progress: prog, Timeouts: Timeouts{AsyncReport: 5 * time.Second},
	}
	obs, err := Run(context.Background(), fake, opts)
	if err != nil {
		t.Fatal(err)
	}
	fake.async.Wait()
	const planned = 120 + resourcesSteps // the resources schedule's steps come on top
	if len(obs.Items) != planned {
		t.Fatalf("%d observations, want %d", len(obs.Items), planned)
	}
	fresh := DefaultSettings().Tenants
	if obs.RunID == "" || obs.Seed != 11 || !obs.Target.AsyncReports || len(obs.Tenants) != fresh+20 { // 20 adversarial IDs (tenants.go)
		t.Errorf("header: runID %q seed %d async %v tenants %d", obs.RunID, obs.Seed, obs.Target.AsyncReports, len(obs.Tenants))
	}
	if obs.Pairs[obs.Tenants[fresh]] == "" || obs.Pairs[obs.Tenants[0]] != "" {
		t.Errorf("pairs map wrong: %v", obs.Pairs)
	}
	if prog.total.Load() != planned || prog.ticks.Load() != planned || prog.done.Load() != 1 {
		t.Errorf("progress: total %d ticks %d done %d", prog.total.Load(), prog.ticks.Load(), prog.done.Load())
	}
	perSchedule := map[string]int{}
	opportunities := 0
	for i, ob := range obs.Items {
		perSchedule[ob.Schedule]++
		if ob.Seq != int64(i+1) {
			t.Fatalf("item %d has seq %d", i, ob.Seq)
		}
		if ob.Opportunity {
			opportunities++
		}
		if ob.Start.IsZero() || ob.Duration <= 0 {
			t.Errorf("seq %d: no timing", ob.Seq)
		}
		switch {
		case ob.Err != "":
			t.Errorf("seq %d: unexpected error %s", ob.Seq, ob.Err)
		case ob.Async && ob.Action == probes.ActionError:
			if ob.Report == nil || len(ob.AsyncRetries) != 2 {
				t.Errorf("seq %d: failed Event invocation with report %v and %d retries, want a report and 2", ob.Seq, ob.Report != nil, len(ob.AsyncRetries))
			}
		case ob.Action != probes.ActionNone:
			want := map[probes.Action]string{probes.ActionError: "errorString", probes.ActionCrash: "Runtime.ExitError", probes.ActionTimeout: "Sandbox.Timedout"}[ob.Action]
			if ob.FunctionError != "Unhandled" || ob.ErrorType != want || ob.Report != nil {
				t.Errorf("seq %d action %s: functionError %q errorType %q", ob.Seq, ob.Action, ob.FunctionError, ob.ErrorType)
			}
		case ob.Report == nil:
			t.Errorf("seq %d (async %v): no report", ob.Seq, ob.Async)
		case ob.Report.Seq != ob.Seq || ob.Report.Tenant != ob.Tenant || ob.Report.RunID != obs.RunID:
			t.Errorf("seq %d: report echoes seq %d tenant %q", ob.Seq, ob.Report.Seq, ob.Report.Tenant)
		}
		if ob.Async && ob.StatusCode != 202 || !ob.Async && ob.StatusCode != 200 {
			t.Errorf("seq %d async %v: status %d", ob.Seq, ob.Async, ob.StatusCode)
		}
	}
	want := map[string]int{SchedulePingPong: 36, ScheduleBurst: 36, ScheduleRandom: 24, ScheduleAsync: 12, ScheduleErrors: 12, ScheduleResources: resourcesSteps}
	for s, n := range want {
		if perSchedule[s] != n {
			t.Errorf("%s: %d observations, want %d", s, perSchedule[s], n)
		}
	}
	if opportunities != obs.Opportunities || opportunities == 0 {
		t.Errorf("opportunities %d, flagged %d", obs.Opportunities, opportunities)
	}
	for _, r := range fake.requests() {
		if r.Function != "probe" || r.Qualifier != "live" || r.Tenant == "" {
			t.Fatalf("request %+v", r)
		}
	}
}

// TestRunConcurrencyBound checks that no schedule ever has more invocations in flight than
// Options.Concurrency, and that burst really fills its width (its barrier releases together).
func TestRunConcurrencyBound(t *testing.T) {
	for _, tt := range []struct {
		schedule    string
		concurrency int
		wantFull    bool
	}{
		{SchedulePingPong, 4, false},
		{ScheduleBurst, 1, true},
		{ScheduleBurst, 4, true},
		{ScheduleBurst, 5, false}, // 2 tenants x 2 fit in 5
		{ScheduleRandom, 3, true},
		{ScheduleAsync, 4, false},
		{ScheduleErrors, 4, false},
	} {
		t.Run(tt.schedule, func(t *testing.T) {
			fake := newFakeTarget()
			fake.delay = 20 * time.Millisecond
			_, err := Run(context.Background(), fake, Options{
				Function: "f", Schedules: []string{tt.schedule}, Invocations: 12,
				Concurrency: tt.concurrency, Seed: 3, ErrorRate: -1, MaxTimeouts: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			max := fake.maxInflight.Load()
			if max > int64(tt.concurrency) {
				t.Errorf("max in flight %d > concurrency %d", max, tt.concurrency)
			}
			if tt.wantFull && max != int64(tt.concurrency) {
				t.Errorf("max in flight %d, want %d", max, tt.concurrency)
			}
			if !tt.wantFull && tt.concurrency > 1 && tt.schedule != ScheduleBurst && max != 1 {
				t.Errorf("sequential schedule had %d in flight", max)
			}
		})
	}
}

func TestRunAsyncReportMissing(t *testing.T) {
	fake := newFakeTarget()
	fake.dropAsync = true
	obs, err := Run(context.Background(), fake, Options{
		Function: "f", Schedules: []string{ScheduleAsync}, Invocations: 6, Seed: 1, ErrorRate: -1,
		ReportSink: true, Timeouts: Timeouts{AsyncReport: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	fake.async.Wait()
	async := 0
	for _, ob := range obs.Items {
		if !ob.Async {
			if ob.Report == nil || ob.Err != "" {
				t.Errorf("sync seq %d: report %v err %q", ob.Seq, ob.Report, ob.Err)
			}
			continue
		}
		async++
		if ob.Report != nil || !strings.Contains(ob.Err, ErrAsyncReportMissing.Error()) {
			t.Errorf("async seq %d: report %v err %q", ob.Seq, ob.Report, ob.Err)
		}
	}
	if async != 3 {
		t.Errorf("%d async observations, want 3", async)
	}
}

// TestRunOpportunities hand-checks the count on a small sequential run. Ping-pong between
// two tenants A, B at concurrency 1: A first (nobody has an environment), then every
// invocation finds the other tenant's environment idle. A crash leaves no environment.
func TestRunOpportunities(t *testing.T) {
	two := []Tenant{{ID: "A", Pair: "x"}, {ID: "B", Pair: "x"}}
	obs, err := Run(context.Background(), newFakeTarget(), Options{
		Function: "f", Fixed: two, Schedules: []string{SchedulePingPong}, Invocations: 4, ErrorRate: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for _, ob := range obs.Items {
		got = append(got, ob.Opportunity)
	}
	if want := []bool{false, true, true, true}; !equalBools(got, want) || obs.Opportunities != 3 {
		t.Errorf("opportunities %v (%d), want %v (3)", got, obs.Opportunities, want)
	}
}

func TestTrackerSequence(t *testing.T) {
	const A, B, C = 0, 1, 2
	type op struct {
		begin     bool
		tenant    int
		completed bool // for end
		want      bool // for begin
	}
	seq := []op{
		{begin: true, tenant: A, want: false}, // nobody has completed anything
		{tenant: A, completed: true},          // A idle with an environment
		{begin: true, tenant: A, want: false}, // only A itself is idle
		{begin: true, tenant: B, want: false}, // A busy again
		{tenant: A, completed: true},
		{begin: true, tenant: C, want: true}, // A idle
		{tenant: B, completed: false},        // B's invocation crashed: no environment
		{begin: true, tenant: B, want: true}, // A still idle
		{tenant: C, completed: true},
		{tenant: B, completed: true},
		{begin: true, tenant: A, want: true}, // B and C idle
		{begin: true, tenant: B, want: true}, // C idle
		{begin: true, tenant: C, want: false},
	}
	tr := newTracker(3)
	for i, o := range seq {
		if !o.begin {
			tr.end(o.tenant, o.completed)
			continue
		}
		if got := tr.begin(o.tenant); got != o.want {
			t.Errorf("op %d: begin(%d) = %v, want %v", i, o.tenant, got, o.want)
		}
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := newFakeTarget()
	fake.delay = 2 * time.Millisecond
	prog := &countingProgress{onTick: func(n int64) {
		if n == 10 {
			cancel()
		}
	}}
	obs, err := Run(ctx, fake, Options{
		Function: "f", Schedules: []string{ScheduleRandom}, Invocations: 500, Concurrency: 2, Progress: prog,
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(obs.Items); n < 10 || n > 12 {
		t.Errorf("%d observations after cancelling at 10 with concurrency 2", n)
	}
	for _, ob := range obs.Items {
		if ob.Duration <= 0 || (ob.Report == nil && ob.FunctionError == "") {
			t.Errorf("seq %d incomplete after cancel: %+v", ob.Seq, ob)
		}
	}
	if prog.ticks.Load() != int64(len(obs.Items)) {
		t.Errorf("ticks %d for %d items", prog.ticks.Load(), len(obs.Items))
	}
}

func TestRunPhaseTimeout(t *testing.T) {
	fake := newFakeTarget()
	fake.delay = 20 * time.Millisecond
	obs, err := Run(context.Background(), fake, Options{
		Function: "f", Schedules: []string{SchedulePingPong, ScheduleRandom}, Invocations: 100,
		Concurrency: 4, ErrorRate: -1, Timeouts: Timeouts{Phase: 100 * time.Millisecond},
	})
	if err == nil || !strings.Contains(err.Error(), "phase timeout") {
		t.Fatalf("err = %v, want a phase timeout", err)
	}
	seen := map[string]int{}
	for _, ob := range obs.Items {
		seen[ob.Schedule]++
	}
	if seen[SchedulePingPong] == 0 || seen[ScheduleRandom] == 0 || len(obs.Items) >= 100 {
		t.Errorf("observations per schedule %v: want both phases cut short", seen)
	}
}

func TestRunThrottled(t *testing.T) {
	throttle := &scripted{outcomes: []outcome{{err: &APIError{StatusCode: 429, Code: "TooManyRequestsException"}}}, repeatLast: true}
	for _, tt := range []struct {
		name        string
		inv         Invoker
		wantRetries int
	}{
		{"raw", throttle, 0},
		{"retrying", Retrying(throttle, RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond}), 2},
	} {
		obs, err := Run(context.Background(), tt.inv, Options{Function: "f", Schedules: []string{SchedulePingPong}, Invocations: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, ob := range obs.Items {
			if !ob.Throttled || ob.StatusCode != 429 || ob.Retries != tt.wantRetries || ob.Err == "" || ob.Opportunity {
				t.Errorf("%s: seq %d throttled %v status %d retries %d err %q opportunity %v",
					tt.name, ob.Seq, ob.Throttled, ob.StatusCode, ob.Retries, ob.Err, ob.Opportunity)
			}
		}
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		inv  Invoker
		opts Options
	}{
		{"nil invoker", nil, Options{Function: "f"}},
		{"no function", newFakeTarget(), Options{}},
		{"invalid tenant", newFakeTarget(), Options{Function: "f", Fixed: []Tenant{{ID: "a"}, {ID: "b\n"}}}},
		{"unknown schedule", newFakeTarget(), Options{Function: "f", Schedules: []string{"zigzag"}}},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), tt.inv, tt.opts); err == nil {
			t.Errorf("%s: Run succeeded", tt.name)
		}
	}
}

// fakeRetries is an async channel that hands back a fixed set of retried reports.
type fakeRetries struct {
	asyncChannel
	got  map[int64][]*probes.Report
	want map[int64]int // what the runner asked for
}

func (f *fakeRetries) retries(_ context.Context, _, _ string, _ time.Time, want map[int64]int, _ time.Duration) (map[int64][]*probes.Report, string) {
	f.want = want
	return f.got, ""
}

// TestCollectRetries: the runner asks for as many retries as the function's event invoke config
// allows, of each failed Event invocation whose first report came, keeps them on their
// observations, and says how it collected them, in the record too (a run cut short later still
// has the summary).
func TestCollectRetries(t *testing.T) {
	items := func() []Observation {
		return []Observation{
			{Seq: 1, Async: true, Action: probes.ActionError, Report: &probes.Report{EnvID: "a"}},
			{Seq: 2, Async: true, Action: probes.ActionError}, // its report never came: no retries expected
			{Seq: 3, Action: probes.ActionError},              // synchronous: never retried
			{Seq: 4, Async: true, Action: probes.ActionError, Report: &probes.Report{EnvID: "b"}},
		}
	}
	retried := map[int64][]*probes.Report{1: {{EnvID: "a"}}}
	tests := []struct {
		name      string
		opts      Options
		channel   asyncChannel
		wantAsked map[int64]int
		want      AsyncRetries
	}{
		{"default two retries", Options{}, &fakeRetries{got: retried}, map[int64]int{1: 2, 4: 2},
			AsyncRetries{Failed: 2, Expected: 2, Received: 1}},
		{"configured one retry", Options{AsyncRetries: 1}, &fakeRetries{got: retried}, map[int64]int{1: 1, 4: 1},
			AsyncRetries{Failed: 2, Expected: 1, Received: 1}},
		{"configured none", Options{NoAsyncRetries: "MaximumRetryAttempts is 0"}, &fakeRetries{got: retried}, nil,
			AsyncRetries{Failed: 2, NotCollected: "MaximumRetryAttempts is 0"}},
		{"no channel", Options{AsyncChannel: AsyncChannelNone}, nil, nil,
			AsyncRetries{Failed: 2, Expected: 2, NotCollected: "the none channel carries no reports back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			rec := NewRecord(&buf, RunInfo{})
			tt.opts.Function, tt.opts.Record = "f", rec
			e := &executor{opts: tt.opts.withDefaults(), async: tt.channel}
			its := items()
			info := e.collectRetries(t.Context(), its)
			if info == nil {
				t.Fatal("no summary")
			}
			info.Waited = 0
			if *info != tt.want {
				t.Errorf("summary %+v, want %+v", *info, tt.want)
			}
			if f, ok := tt.channel.(*fakeRetries); ok && tt.wantAsked != nil && !maps.Equal(f.want, tt.wantAsked) {
				t.Errorf("asked for %v, want %v", f.want, tt.wantAsked)
			}
			wantOn1 := 0
			if tt.want.NotCollected == "" {
				wantOn1 = 1
			}
			if len(its[0].AsyncRetries) != wantOn1 || its[3].AsyncRetries != nil {
				t.Errorf("retries kept: seq 1 %d, seq 4 %d; want %d and 0", len(its[0].AsyncRetries), len(its[3].AsyncRetries), wantOn1)
			}
			if !strings.Contains(buf.String(), `"summary":{"failed":2`) {
				t.Errorf("record lacks the retry summary:\n%s", buf.String())
			}
		})
	}
	if info := (&executor{opts: Options{}.withDefaults()}).collectRetries(t.Context(), items()[2:3]); info != nil {
		t.Errorf("a run without failed Event invocations: summary %+v, want nil", info)
	}
}
