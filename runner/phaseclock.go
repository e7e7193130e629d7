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
// the limit follows the schedule's own rate: once minProjection invocations have finished it is
// PhaseSlack times the time all of its steps would take at that rate, and never below the
// floor (Defaults.Phase). The check runs when the current limit expires, so a target that stops
// answering is given up on at the floor, and a fast one is never cut short by a fixed guess.
type phaseClock struct {
	ctx    context.Context
	cancel context.CancelFunc
	fixed  bool
	floor  time.Duration
	steps  int
	start  time.Time

	mu    sync.Mutex
	done  int
	limit time.Duration // the limit that expired, for the error
	timer *time.Timer
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

// check runs when the limit last set expires: the schedule ends unless its rate now projects a
// later limit, which is then set.
func (c *phaseClock) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	lim := c.limitAt(time.Since(c.start), c.done)
	c.limit = lim
	if left := lim - time.Since(c.start); left > 0 {
		c.timer.Reset(left)
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
	c.timer.Stop()
	c.mu.Unlock()
	c.cancel()
}
