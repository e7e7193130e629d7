package runner

import (
	"fmt"

	"github.com/tenantcheck/tenantcheck/probes"
)

// sinkKey names one invocation's report: its run and its sequence number.
type sinkKey struct {
	runID string
	seq   int64
}

// arrivals is the book every async channel keeps of the reports it has received. The first
// report of an invocation answers the runner's wait; later ones (Lambda retrying a failed Event
// invocation) are counted, not kept. It has no lock of its own: the channel that owns it guards
// it with the lock that also guards the channel's other state.
type arrivals map[sinkKey]*arrival

type arrival struct {
	arrived chan struct{} // closed when rep or logErr is set
	rep     *probes.Report
	// logErr is what a probe wrote instead of a report it could not deliver.
	logErr *probes.ReportLogError
	dups   int
}

// entry returns k's arrival, creating it (not yet arrived) on first use, so a wait and a
// delivery meet on the same entry whichever comes first.
func (a arrivals) entry(k sinkKey) *arrival {
	e, ok := a[k]
	if !ok {
		e = &arrival{arrived: make(chan struct{})}
		a[k] = e
	}
	return e
}

// record takes in one delivery for k and reports whether it was the first.
func (a arrivals) record(k sinkKey, rep *probes.Report, logErr *probes.ReportLogError) bool {
	e := a.entry(k)
	if e.rep != nil || e.logErr != nil {
		e.dups++
		return false
	}
	e.rep, e.logErr = rep, logErr
	close(e.arrived)
	return true
}

// duplicates counts deliveries beyond the first for the invocations of run runID.
func (a arrivals) duplicates(runID string) int {
	n := 0
	for k, e := range a {
		if k.runID == runID {
			n += e.dups
		}
	}
	return n
}

// result is the arrival's answer to a wait, once arrived.
func (e *arrival) result() (*probes.Report, error) {
	if e.logErr != nil {
		return nil, fmt.Errorf("%w: %s", ErrAsyncReportMissing, e.logErr)
	}
	return e.rep, nil
}
