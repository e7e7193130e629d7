package runner

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"syscall"
	"time"
)

// RetryPolicy bounds how long the runner leans on a target that pushes back. Throttling is an
// environment limit, not an isolation verdict, so the runner absorbs it where it can and
// records it where it cannot (reported as ERROR, never FAIL).
type RetryPolicy struct {
	// MaxAttempts counts the first try; 1 disables retries. 0 means 5.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry, doubled each time. 0 means 50ms.
	BaseDelay time.Duration
	// MaxDelay caps a single backoff. 0 means 5s.
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 50 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 5 * time.Second
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	return p
}

// backoff is "full jitter": uniform in [0, min(max, base*2^retry)], so many workers throttled
// together do not come back together.
func (p RetryPolicy) backoff(retry int) time.Duration {
	d := p.MaxDelay
	if retry < 30 {
		if exp := p.BaseDelay << retry; exp > 0 && exp < d {
			d = exp
		}
	}
	return rand.N(d + 1)
}

// Retrying wraps inv so throttles (429), server errors (5xx) and dropped connections are
// retried with exponential backoff and jitter. The count lands in InvokeResponse.Retries and a
// 429 that outlasts every attempt sets InvokeResponse.Throttled. Checks that must see the
// throttle itself (the environment limit) use the unwrapped invoker.
func Retrying(inv Invoker, policy RetryPolicy) Invoker {
	return &retrying{inv: inv, policy: policy.withDefaults()}
}

type retrying struct {
	inv    Invoker
	policy RetryPolicy
}

func (r *retrying) Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error) {
	var retries int
	for {
		resp, err := r.inv.Invoke(ctx, req)
		retryable, throttled := classify(resp, err)
		if !retryable || retries+1 >= r.policy.MaxAttempts || ctx.Err() != nil {
			resp.Retries = retries
			resp.Throttled = throttled
			return resp, err
		}
		t := time.NewTimer(r.policy.backoff(retries))
		select {
		case <-ctx.Done():
			t.Stop()
			resp.Retries = retries
			resp.Throttled = throttled
			return resp, err
		case <-t.C:
		}
		retries++
	}
}

// classify says whether an outcome is worth another attempt and whether it was a throttle.
// Function errors (HTTP 200 with X-Amz-Function-Error) are never retried: they are the
// behaviour under test.
func classify(resp InvokeResponse, err error) (retryable, throttled bool) {
	status := resp.StatusCode
	if err != nil {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			return isConnReset(err), false
		}
		status = apiErr.StatusCode
	}
	switch {
	case status == http.StatusTooManyRequests:
		return true, true
	case status >= 500:
		return true, false
	}
	return false, false
}

// isConnReset matches a connection the target dropped mid-request (an emulator restarting an
// environment, a keep-alive raced by the server). Refused connections are not retried: the
// target is down and waiting will not help within one invocation.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
