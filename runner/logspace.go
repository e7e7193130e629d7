package runner

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"golang.org/x/time/rate"
)

// AWSFilterLogEventsRate is the pace PacedLogs keeps on AWS: FilterLogEvents has a hard quota
// of 5 transactions per second per account and Region, shared with whatever else reads logs in
// the account, and every page of a paginated read is a transaction of its own.
const AWSFilterLogEventsRate = 3

// PacedLogs spaces the FilterLogEvents calls of every reader that shares it to perSecond: the
// async report pollers of the isolation run and of the contract phase run at the same time on
// the same log group, and the logs area follows them. A call waits for its slot (or its
// context); nothing is dropped, so throttling turns into latency the report waits absorb
// instead of errors they cannot.
func PacedLogs(c LogsClient, perSecond float64) LogsClient {
	return &pacedLogs{c: c, lim: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

type pacedLogs struct {
	c   LogsClient
	lim *rate.Limiter
}

func (p *pacedLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	if err := p.lim.Wait(ctx); err != nil {
		return nil, fmt.Errorf("wait for a FilterLogEvents slot: %w", err)
	}
	return p.c.FilterLogEvents(ctx, in, opts...)
}
