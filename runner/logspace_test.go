package runner

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

type countingLogs struct{ calls atomic.Int64 }

func (c *countingLogs) FilterLogEvents(context.Context, *cloudwatchlogs.FilterLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	c.calls.Add(1)
	return &cloudwatchlogs.FilterLogEventsOutput{}, nil
}

// TestPacedLogsHoldsCallsBeyondTheRate: at one call an hour, the first call goes through and
// the second is held for its slot, and given up with its context, without reaching the service.
func TestPacedLogsHoldsCallsBeyondTheRate(t *testing.T) {
	inner := &countingLogs{}
	p := PacedLogs(inner, 1.0/3600)
	if _, err := p.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{}); err == nil || !strings.Contains(err.Error(), "FilterLogEvents slot") {
		t.Errorf("second call within the hour: %v, want it held for its slot", err)
	}
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the service, want 1", n)
	}
}
