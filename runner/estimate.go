package runner

import (
	"container/list"
	"fmt"
	"io"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// The forecast's model of a target, measured on the built-in target on a 2-core machine (10,000
// tenants, 12,000 invocations: 11,031 new environments in 305 s): a new environment (a tenant's
// first invocation, the first after a crash or timeout, or after forecastCap other tenants
// pushed its environment out) costs coldCost of wall time whatever the concurrency, and a warm
// invocation warmCost per slot in flight. It is a guess for other targets; the run corrects it
// with its own rate as it goes.
const (
	coldCost    = 28 * time.Millisecond
	warmCost    = 8 * time.Millisecond
	forecastCap = 64 // the built-in target's default environment cap
	// announceOver is how long a run must be expected to take before it says so.
	announceOver = time.Minute
)

// forecast is a rough expectation of how long phases take: new environments, warm
// invocations, the function timeouts the errors schedule waits out, and pauses.
func forecast(phases []Phase, fnTimeout time.Duration) (time.Duration, int) {
	warm := newLRU(forecastCap)
	var total time.Duration
	cold := 0
	for _, ph := range phases {
		conc := time.Duration(max(1, ph.Concurrency))
		for _, st := range ph.Steps {
			total += st.Pause
			if warm.touch(st.Tenant) {
				total += warmCost / conc
			} else {
				cold++
				total += coldCost
			}
			if st.Action == probes.ActionCrash || st.Action == probes.ActionTimeout || st.Memory {
				warm.remove(st.Tenant) // its next invocation starts a new environment
			}
			if st.Action == probes.ActionTimeout {
				total += fnTimeout / conc
			}
		}
	}
	return total, cold
}

// announce says up front how long the schedules are expected to take, when that is long enough
// to wonder about, so a user of 10,000 tenants knows to wait rather than to kill the run.
func announce(w io.Writer, phases []Phase, tenants int) {
	if w == nil {
		return
	}
	d, cold := forecast(phases, DefaultSettings().FunctionTimeout)
	if d < announceOver {
		return
	}
	steps := 0
	for _, ph := range phases {
		steps += len(ph.Steps)
	}
	fmt.Fprintf(w, "%d invocations for %d tenants, %d of them on a new environment: expect roughly %s (the built-in target's cost; the run corrects it as it goes)\n",
		steps, tenants, cold, d.Round(time.Second))
}

// announceRest says, after a schedule, how long the rest is expected to take at the rate the
// run has measured so far, when that is long.
func announceRest(w io.Writer, done, rest []Phase, elapsed time.Duration) {
	if w == nil || len(rest) == 0 {
		return
	}
	fnTimeout := DefaultSettings().FunctionTimeout
	guessDone, _ := forecast(done, fnTimeout)
	guessRest, _ := forecast(append(append([]Phase(nil), done...), rest...), fnTimeout)
	guessRest -= guessDone
	if guessDone <= 0 {
		return
	}
	left := time.Duration(float64(guessRest) * float64(elapsed) / float64(guessDone))
	if left < announceOver {
		return
	}
	fmt.Fprintf(w, "%s of schedules done in %s; expect about %s more at this rate\n",
		done[len(done)-1].Schedule, elapsed.Round(time.Second), left.Round(time.Second))
}

// lru is the forecast's picture of which tenants still have an environment at a capped target.
type lru struct {
	cap   int
	order *list.List
	at    map[int]*list.Element
}

func newLRU(capacity int) *lru {
	return &lru{cap: capacity, order: list.New(), at: map[int]*list.Element{}}
}

// touch marks tenant most recently used and reports whether it had an environment already.
func (l *lru) touch(tenant int) bool {
	if e, ok := l.at[tenant]; ok {
		l.order.MoveToFront(e)
		return true
	}
	l.at[tenant] = l.order.PushFront(tenant)
	if l.order.Len() > l.cap {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.at, oldest.Value.(int))
	}
	return false
}

func (l *lru) remove(tenant int) {
	if e, ok := l.at[tenant]; ok {
		l.order.Remove(e)
		delete(l.at, tenant)
	}
}
