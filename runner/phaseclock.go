package runner

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// PhaseSlack is how many times its projected duration a schedule may take before the runner
// gives up on it (unless --phase-timeout fixes the limit).
const PhaseSlack = 3

// minProjection is how many finished invocations a projection needs.
const minProjection = 10

// phaseClock bounds one schedule. A fixed limit (--phase-timeout) is kept as given; otherwise
// the limit follows the schedule's own rate: when the floor (Defaults.Phase) expires with at
// least minProjection invocations finished, the limit is set, once, to PhaseSlack times the time
// all of its steps would take at the rate so far, and never below the floor. It is set once
// because a projection made later from a slowing rate always lies ahead of the present: a target
// that starts to hang (every invocation waiting out its timeout) must still be given up on.
type phaseClock struct {
	ctx    context.Context
	cancel context.CancelFunc
	fixed  bool
	floor  time.Duration
	steps  int
	start  time.Time

	mu      sync.Mutex
	done    int
	limit   time.Duration // the limit in force (the one that expired, for the error)
	settled bool          // limit is final
	stopped bool
	timer   *time.Timer
}

func startPhaseClock(parent context.Context, fixed time.Duration, steps int) *phaseClock {
	c := &phaseClock{steps: steps, start: time.Now(), fixed: fixed > 0, floor: fixed}
	if !c.fixed {
		c.floor = DefaultSettings().Phase
	}
	c.ctx, c.cancel = context.WithCancel(parent)
	c.mu.Lock()
	c.limit = c.floor
	c.timer = time.AfterFunc(c.floor, c.check)
	c.mu.Unlock()
	return c
}

// tick counts one finished invocation; nil-safe, as the executor has no clock between phases.
func (c *phaseClock) tick() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.done++
	c.mu.Unlock()
}

// limitAt is the limit as the rate so far projects it: done of the steps finished in elapsed.
func (c *phaseClock) limitAt(elapsed time.Duration, done int) time.Duration {
	if c.fixed || done < minProjection || c.steps == 0 {
		return c.floor
	}
	projected := time.Duration(float64(elapsed) * float64(c.steps) / float64(done))
	return max(c.floor, PhaseSlack*projected)
}

// decide is what the clock does when its limit expires at elapsed with done finished: before
// the limit is settled it projects one (and settles it once there is a rate); it reports the
// limit now in force and whether the schedule must end. The caller holds c.mu.
func (c *phaseClock) decide(elapsed time.Duration, done int) (time.Duration, bool) {
	if !c.settled {
		c.limit = c.limitAt(elapsed, done)
		c.settled = c.fixed || done >= minProjection
	}
	return c.limit, elapsed >= c.limit
}

// check runs when the limit in force expires: the schedule ends unless the limit was just set
// further ahead.
func (c *phaseClock) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	elapsed := time.Since(c.start)
	lim, expired := c.decide(elapsed, c.done)
	if !expired {
		c.timer.Reset(lim - elapsed)
		return
	}
	c.cancel()
}

// why names the limit that ended the schedule, and how it was set.
func (c *phaseClock) why() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed {
		return c.limit.String()
	}
	return fmt.Sprintf("%s (%dx the duration its rate projected, at least %s; set --phase-timeout to fix it)",
		c.limit.Round(time.Second), PhaseSlack, c.floor)
}

func (c *phaseClock) stop() {
	c.mu.Lock()
	c.stopped = true
	c.timer.Stop()
	c.mu.Unlock()
	c.cancel()
}
