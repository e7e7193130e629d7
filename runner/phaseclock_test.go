package runner

import (
	"context"
	"testing"
	"time"
)

// TestPhaseClockLimit: a fixed limit is kept whatever the rate; an automatic one is the floor
// until the schedule has a rate, then PhaseSlack times what that rate projects for all its
// steps, never below the floor.
func TestPhaseClockLimit(t *testing.T) {
	const floor = 2 * time.Minute
	for _, tc := range []struct {
		name    string
		fixed   bool
		steps   int
		elapsed time.Duration
		done    int
		want    time.Duration
	}{
		{"fixed ignores the rate", true, 12000, 10 * time.Second, 100, floor},
		{"no rate yet", false, 12000, 10 * time.Second, minProjection - 1, floor},
		{"fast schedule keeps the floor", false, 800, 4 * time.Second, 400, floor},
		{"slow schedule gets three times its projection", false, 3600, 10 * time.Second, 100, 3 * 360 * time.Second},
		{"no steps", false, 0, time.Second, 0, floor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &phaseClock{fixed: tc.fixed, floor: floor, steps: tc.steps}
			if got := c.limitAt(tc.elapsed, tc.done); got != tc.want {
				t.Errorf("limitAt(%s, %d) = %s, want %s", tc.elapsed, tc.done, got, tc.want)
			}
		})
	}
}

// TestPhaseClockEnds: a fixed limit ends the schedule's context when it expires, and a stopped
// clock ends it too (waited on, not timed).
func TestPhaseClockEnds(t *testing.T) {
	c := startPhaseClock(context.Background(), time.Nanosecond, 5)
	<-c.ctx.Done()
	if got := c.why(); got != "1ns" {
		t.Errorf("why() = %q, want the fixed limit", got)
	}
	c.stop()

	c = startPhaseClock(context.Background(), 0, 5)
	if c.ctx.Err() != nil {
		t.Fatalf("an automatic clock ended before its floor")
	}
	c.stop()
	<-c.ctx.Done()
}

// TestPhaseClockSettles: the automatic limit is projected once, when the floor expires with a
// rate, and then held: a schedule whose target starts to hang (each invocation waiting out its
// timeout, so the rate keeps falling) still ends, where a limit projected afresh each time would
// always lie ahead. Without a rate at the floor the schedule ends there.
func TestPhaseClockSettles(t *testing.T) {
	const floor = 2 * time.Minute
	type step struct {
		elapsed time.Duration
		done    int
		limit   time.Duration
		expired bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"hangs after a good start", []step{
			{floor, 100, 3 * 72 * time.Minute, false},               // 3600 steps at 100 per 2m: 72m projected
			{3 * 72 * time.Minute, 150, 3 * 72 * time.Minute, true}, // slowed to a crawl: still ends
		}},
		{"no rate at the floor", []step{{floor, minProjection - 1, floor, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &phaseClock{floor: floor, steps: 3600}
			for i, st := range tc.steps {
				lim, expired := c.decide(st.elapsed, st.done)
				if lim != st.limit || expired != st.expired {
					t.Errorf("step %d: decide(%s, %d) = %s, %v; want %s, %v", i, st.elapsed, st.done, lim, expired, st.limit, st.expired)
				}
			}
		})
	}
}
