package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

type outcome struct {
	status int
	err    error
}

// scripted answers with a fixed list of outcomes, then repeats the last or succeeds.
type scripted struct {
	mu         sync.Mutex
	outcomes   []outcome
	repeatLast bool
	calls      int
}

func (s *scripted) Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.calls
	s.calls++
	if i >= len(s.outcomes) {
		if !s.repeatLast {
			return InvokeResponse{StatusCode: 200, Payload: []byte(`{"schema":1}`)}, nil
		}
		i = len(s.outcomes) - 1
	}
	o := s.outcomes[i]
	return InvokeResponse{StatusCode: o.status}, o.err
}

func apiErr(status int, code string) error {
	return &APIError{StatusCode: status, Code: code, Message: "m", Err: errors.New("sdk")}
}

func connReset() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

func TestRetrying(t *testing.T) {
	tests := []struct {
		name          string
		outcomes      []outcome
		repeatLast    bool
		wantCalls     int
		wantRetries   int
		wantErr       bool
		wantThrottled bool
	}{
		{"success", nil, false, 1, 0, false, false},
		{"429 then ok", []outcome{{err: apiErr(429, "TooManyRequestsException")}, {err: apiErr(429, "TooManyRequestsException")}}, false, 3, 2, false, false},
		{"429 exhausted", []outcome{{err: apiErr(429, "TooManyRequestsException")}}, true, 4, 3, true, true},
		{"5xx then ok", []outcome{{err: apiErr(503, "ServiceException")}}, false, 2, 1, false, false},
		{"5xx exhausted", []outcome{{err: apiErr(502, "EC2ThrottledException")}}, true, 4, 3, true, false},
		{"5xx then 429 exhausted", []outcome{{err: apiErr(500, "ServiceException")}, {err: apiErr(429, "TooManyRequestsException")}}, true, 4, 3, true, true},
		{"429 then 400", []outcome{{err: apiErr(429, "TooManyRequestsException")}, {err: apiErr(400, "InvalidParameterValueException")}}, false, 2, 1, true, false},
		{"400 not retried", []outcome{{err: apiErr(400, "InvalidParameterValueException")}}, true, 1, 0, true, false},
		{"404 not retried", []outcome{{err: apiErr(404, "ResourceNotFoundException")}}, true, 1, 0, true, false},
		{"status 500 without error", []outcome{{status: 500}}, false, 2, 1, false, false},
		{"connection reset", []outcome{{err: fmt.Errorf("invoke: %w", connReset())}}, false, 2, 1, false, false},
		{"connection refused", []outcome{{err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, false, 1, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{outcomes: tt.outcomes, repeatLast: tt.repeatLast}
			inv := Retrying(s, RetryPolicy{MaxAttempts: 4, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond})
			resp, err := inv.Invoke(context.Background(), InvokeRequest{})
			if (err != nil) != tt.wantErr || s.calls != tt.wantCalls || resp.Retries != tt.wantRetries || resp.Throttled != tt.wantThrottled {
				t.Errorf("err %v calls %d retries %d throttled %v; want err %v calls %d retries %d throttled %v",
					err, s.calls, resp.Retries, resp.Throttled, tt.wantErr, tt.wantCalls, tt.wantRetries, tt.wantThrottled)
			}
			var ae *APIError
			if tt.wantErr && len(tt.outcomes) > 0 && errors.As(tt.outcomes[0].err, &ae) && !errors.As(err, &ae) {
				t.Errorf("APIError lost: %v", err)
			}
		})
	}
}

func TestRetryingStopsOnCancel(t *testing.T) {
	s := &scripted{outcomes: []outcome{{err: apiErr(429, "TooManyRequestsException")}}, repeatLast: true}
	inv := Retrying(s, RetryPolicy{MaxAttempts: 100, BaseDelay: time.Hour, MaxDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	var resp InvokeResponse
	var err error
	go func() {
		resp, err = inv.Invoke(ctx, InvokeRequest{})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Retrying ignored context cancellation during backoff")
	}
	if err == nil || !resp.Throttled || s.calls > 2 {
		t.Errorf("err %v throttled %v calls %d", err, resp.Throttled, s.calls)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}.withDefaults()
	for retry := range 64 {
		ceiling := min(p.MaxDelay, p.BaseDelay<<min(retry, 20))
		for range 50 {
			if d := p.backoff(retry); d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v outside [0, %v]", retry, d, ceiling)
			}
		}
	}
}
