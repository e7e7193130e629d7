package runner

import (
	"crypto/subtle"
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
// invocation) are kept too, in order, for the check on where retries run. A report must carry the token its invocation was given
// (expect): one that does not is dropped and counted, so a function cannot answer for an
// invocation of another tenant. It has no lock of its own: the channel that owns it guards it
// with the lock that also guards the channel's other state.
type arrivals struct {
	m       map[sinkKey]*arrival
	dropped int
	// again is closed, and replaced, whenever a repeat delivery is kept, so a wait for retries
	// wakes on each one.
	again chan struct{}
}

func newArrivals() arrivals {
	return arrivals{m: map[sinkKey]*arrival{}, again: make(chan struct{})}
}

type arrival struct {
	arrived chan struct{} // closed when rep or logErr is set
	rep     *probes.Report
	// logErr is what a probe wrote instead of a report it could not deliver.
	logErr *probes.ReportLogError
	dups   int
	// repeats are the reports of later deliveries (retries), kept with a report only.
	repeats []*probes.Report
	// token is the secret the invocation was given ("" when the caller gave none); got is the
	// one the kept delivery carried.
	token, got string
}

// entry returns k's arrival, creating it (not yet arrived) on first use, so a wait and a
// delivery meet on the same entry whichever comes first.
func (a *arrivals) entry(k sinkKey) *arrival {
	e, ok := a.m[k]
	if !ok {
		e = &arrival{arrived: make(chan struct{})}
		a.m[k] = e
	}
	return e
}

// expect records the token invocation k was given. A delivery that came before it with
// another token (a guess at a future invocation) is thrown away.
func (a *arrivals) expect(k sinkKey, token string) {
	e := a.entry(k)
	e.token = token
	if (e.rep != nil || e.logErr != nil) && !sameToken(e.got, token) {
		a.dropped++
		*e = arrival{arrived: make(chan struct{}), token: token}
	}
}

// delivery is what record made of one delivery.
type delivery int

const (
	deliveredFirst  delivery = iota // the report that answers the wait
	deliveredAgain                  // a valid repeat (a retry of the same invocation): counted
	deliveredForged                 // not the invocation's token: dropped and counted
)

// record takes in one delivery for k carrying token. A token that does not match the expected
// one drops the delivery.
func (a *arrivals) record(k sinkKey, token string, rep *probes.Report, logErr *probes.ReportLogError) delivery {
	if _, known := a.m[k]; !known && token != "" {
		a.dropped++ // a token for an invocation never handed one: no entry is made for it
		return deliveredForged
	}
	e := a.entry(k)
	if !sameToken(e.token, token) {
		a.dropped++
		return deliveredForged
	}
	if e.rep != nil || e.logErr != nil {
		e.dups++
		if rep != nil {
			e.repeats = append(e.repeats, rep)
			close(a.again)
			a.again = make(chan struct{})
		}
		return deliveredAgain
	}
	e.rep, e.logErr, e.got = rep, logErr, token
	close(e.arrived)
	return deliveredFirst
}

// sameToken compares in constant time, so a function cannot learn a token byte by byte.
func sameToken(want, got string) bool {
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// duplicates counts deliveries beyond the first for the invocations of run runID.
func (a *arrivals) duplicates(runID string) int {
	n := 0
	for k, e := range a.m {
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

// repeatsOf returns the repeat reports of each of seqs of run runID, and a channel closed at the
// next repeat delivery.
func (a *arrivals) repeatsOf(runID string, seqs []int64) (map[int64][]*probes.Report, <-chan struct{}) {
	out := make(map[int64][]*probes.Report, len(seqs))
	for _, seq := range seqs {
		if e := a.m[sinkKey{runID, seq}]; e != nil && len(e.repeats) > 0 {
			out[seq] = append([]*probes.Report(nil), e.repeats...)
		}
	}
	return out, a.again
}
