package probes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// frontDoorBudget bounds each front-door call, dial included: a target that keeps functions
// off its own API refuses at once or never answers, and either way the invocation goes on.
const frontDoorBudget = time.Second

// tryFrontDoor tries the target's own API from inside the function, with the credentials the
// environment was given, the way a malicious tenant's code would: invoke its own function as
// another tenant (a DryRun, so nothing runs and nothing recurses: the answer alone says whether
// the call was allowed) and read the function's log group, which holds every tenant's lines.
// Either succeeding is a path across the tenant line that bypasses the tenant the platform
// assigned. A nil request tries nothing.
func tryFrontDoor(ctx context.Context, req *FrontDoorRequest) []FrontDoorAttempt {
	if req == nil || req.Function == "" {
		return nil
	}
	cfg := aws.Config{
		Region: req.Region,
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
		HTTPClient:       &http.Client{Timeout: frontDoorBudget},
		RetryMaxAttempts: 1,
	}
	var endpoint *string
	if req.Endpoint != "" {
		endpoint = aws.String(req.Endpoint)
	}
	lc := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = endpoint })
	cc := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = endpoint })

	out := make([]FrontDoorAttempt, 0, 2)
	ictx, cancel := context.WithTimeout(ctx, frontDoorBudget)
	_, err := lc.Invoke(ictx, &lambda.InvokeInput{
		FunctionName:   aws.String(req.Function),
		InvocationType: types.InvocationTypeDryRun,
		TenantId:       aws.String(req.OtherTenant),
	})
	cancel()
	out = append(out, frontDoorAttempt(FrontDoorInvoke, err))

	if req.LogGroup != "" {
		fctx, cancel := context.WithTimeout(ctx, frontDoorBudget)
		_, err = cc.FilterLogEvents(fctx, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(req.LogGroup),
			Limit:        aws.Int32(1),
		})
		cancel()
		out = append(out, frontDoorAttempt(FrontDoorReadLogs, err))
	}
	return out
}

// frontDoorAttempt classifies one call's outcome: no error means the target allowed it.
func frontDoorAttempt(op string, err error) FrontDoorAttempt {
	a := FrontDoorAttempt{Op: op, Allowed: err == nil}
	if err == nil {
		return a
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		a.HTTPStatus = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		a.ErrorCode = ae.ErrorCode()
	}
	a.Detail = clip(fmt.Sprint(err))
	return a
}
