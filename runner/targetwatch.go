package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrTargetGone is the cause a run is cancelled with when its target stopped answering: every
// call for a while could not even connect. Without it a dead target would turn each of the
// remaining planned invocations into a refused connection (thousands at scale) before any
// report was written.
var ErrTargetGone = errors.New("the target stopped answering")

// TargetWatch sees every HTTP call a run makes to its target and calls Gone once when the
// target has refused Calls connections in a row (and for at least Grace, when set): a target
// that was killed, not one that dropped a keep-alive, which is an answer of sorts. A refused
// connection is never retried, so a dead target refuses thousands of calls a second: a count is
// what tells, not a time. Gone cancels the run; what the phases observed until then is judged,
// with no PASS (the run is incomplete).
type TargetWatch struct {
	// Calls bounds what counts as gone; 0 means 16. Grace, when positive, also requires the
	// refusals to span that long.
	Calls int
	Grace time.Duration
	// Gone is called once, with an error wrapping ErrTargetGone and the last refusal.
	Gone func(error)

	mu        sync.Mutex
	refusals  int
	since     time.Time
	announced bool
}

// Wrap returns next with every call watched (nil: the SDK's default client).
func (w *TargetWatch) Wrap(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = http.DefaultClient
	}
	return watchedClient{next: next, w: w}
}

type watchedClient struct {
	next aws.HTTPClient
	w    *TargetWatch
}

func (c watchedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	c.w.saw(err)
	return resp, err
}

// saw records one call's outcome: any answer, even an error status, proves the target is there.
func (w *TargetWatch) saw(err error) {
	if !unreachable(err) {
		w.mu.Lock()
		w.refusals = 0
		w.mu.Unlock()
		return
	}
	calls, grace := w.Calls, w.Grace
	if calls <= 0 {
		calls = 16
	}
	now := time.Now()
	w.mu.Lock()
	if w.refusals == 0 {
		w.since = now
	}
	w.refusals++
	fire := !w.announced && w.refusals >= calls && now.Sub(w.since) >= grace
	if fire {
		w.announced = true
	}
	n, since := w.refusals, w.since
	w.mu.Unlock()
	if fire && w.Gone != nil {
		w.Gone(fmt.Errorf("%w: %d calls in a row over %s could not connect (last: %w)", ErrTargetGone, n, now.Sub(since).Round(time.Millisecond), err))
	}
}

// unreachable matches a call that never reached a listening target: refused, unroutable, or a
// name that does not exist. A reset or a timeout after connecting is an answer of sorts, and a
// failure on this side (out of descriptors or ports, a resolver hiccup) says nothing of the
// target: neither counts.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) && dns.IsNotFound
}
