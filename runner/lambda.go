package runner

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// APIError is an error answer from the Lambda API (not a function error). Checks on the
// contract assert status codes and error codes (400 InvalidParameterValueException, 429
// TooManyRequestsException), and the SDK hides the status behind two layers of wrapping, so it
// is lifted here once.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Err        error
}

func (e *APIError) Error() string {
	if e.Code == "" && e.Message == "" && e.Err != nil {
		// An answer the SDK could not read (a body cut short, say) has no code of its own:
		// the cause is the only thing that says what happened.
		return fmt.Sprintf("lambda api error: status %d: %v", e.StatusCode, e.Err)
	}
	return fmt.Sprintf("lambda api error: status %d, %s: %s", e.StatusCode, e.Code, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// ErrorCode, ErrorMessage and ErrorFault make APIError itself a smithy.APIError, so code that
// already speaks smithy keeps working on the runner's errors.
func (e *APIError) ErrorCode() string    { return e.Code }
func (e *APIError) ErrorMessage() string { return e.Message }
func (e *APIError) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// mapSDKError lifts the HTTP status and the modelled error code out of an SDK error. Errors
// without an HTTP answer (connection refused, reset, context deadline) are only given context.
func mapSDKError(op string, err error) error {
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	hasAPI := errors.As(err, &apiErr)
	// The SDK also wraps send failures in a ResponseError, with status 0: those had no answer.
	hasResp := errors.As(err, &respErr) && respErr.Response != nil && respErr.Response.Response != nil && respErr.HTTPStatusCode() > 0
	if !hasAPI && !hasResp {
		return fmt.Errorf("%s: %w", op, err)
	}
	out := &APIError{Err: err}
	if hasResp {
		out.StatusCode = respErr.HTTPStatusCode()
	}
	if hasAPI {
		out.Code, out.Message = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	return out
}

// LambdaInvoker is the production Invoker: it speaks the Lambda Invoke API through the SDK, so
// the same code path is used against the built-in target, any emulator and AWS.
type LambdaInvoker struct {
	Client *lambda.Client
	// LogTail asks for the last 4 KB of the execution log on synchronous invocations. The logs
	// are where a target reveals which environment served a request, so checks may want them.
	LogTail bool
}

// Invoke implements Invoker.
func (l *LambdaInvoker) Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error) {
	if req.Stream {
		return l.invokeStream(ctx, req)
	}
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(req.Function),
		Payload:        req.Payload,
		InvocationType: types.InvocationTypeRequestResponse,
		Qualifier:      optString(req.Qualifier),
		TenantId:       optString(req.Tenant),
	}
	if req.Async {
		in.InvocationType = types.InvocationTypeEvent
	} else if l.LogTail {
		in.LogType = types.LogTypeTail
	}
	out, err := l.Client.Invoke(ctx, in)
	if err != nil {
		return InvokeResponse{}, mapSDKError("invoke "+req.Function, err)
	}
	resp := InvokeResponse{
		StatusCode:    int(out.StatusCode),
		FunctionError: aws.ToString(out.FunctionError),
		Payload:       out.Payload,
	}
	if out.LogResult != nil {
		resp.LogTail = decodeLog(*out.LogResult)
	}
	return resp, nil
}

func (l *LambdaInvoker) invokeStream(ctx context.Context, req InvokeRequest) (InvokeResponse, error) {
	if req.Async {
		return InvokeResponse{}, errors.New("invoke with response stream: Event invocations cannot stream")
	}
	in := &lambda.InvokeWithResponseStreamInput{
		FunctionName:   aws.String(req.Function),
		Payload:        req.Payload,
		InvocationType: types.ResponseStreamingInvocationTypeRequestResponse,
		Qualifier:      optString(req.Qualifier),
		TenantId:       optString(req.Tenant),
	}
	if l.LogTail {
		in.LogType = types.LogTypeTail
	}
	out, err := l.Client.InvokeWithResponseStream(ctx, in)
	if err != nil {
		return InvokeResponse{}, mapSDKError("invoke with response stream "+req.Function, err)
	}
	stream := out.GetStream()
	defer stream.Close()
	resp := InvokeResponse{StatusCode: int(out.StatusCode)}
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			resp.Payload = append(resp.Payload, v.Value.Payload...)
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			resp.FunctionError = aws.ToString(v.Value.ErrorCode)
			resp.ErrorDetails = aws.ToString(v.Value.ErrorDetails)
			if v.Value.LogResult != nil {
				resp.LogTail = decodeLog(*v.Value.LogResult)
			}
		}
	}
	if err := stream.Err(); err != nil {
		return resp, fmt.Errorf("read response stream of %s: %w", req.Function, err)
	}
	return resp, nil
}

func decodeLog(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// A target that sends the tail undecoded still tells us something; keep it verbatim.
		return s
	}
	return string(b)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ClientOptions tune NewLambdaClient.
type ClientOptions struct {
	// AdaptiveRetry turns on the SDK's adaptive retry mode (client-side rate limiting), meant
	// for AWS where account-wide throttling is shared with other callers. Off by default
	// because the runner owns retries and counts them; with it on, SDK retries are invisible
	// to Observation.Retries.
	AdaptiveRetry bool
	// MaxAttempts bounds the adaptive mode's attempts; 0 keeps the SDK default.
	MaxAttempts int
	// MaxConnsPerHost sizes the idle connection pool; the SDK default of 10 makes bursts wider
	// than 10 churn connections. 0 means 64.
	MaxConnsPerHost int
	// HTTPClient replaces the SDK's HTTP client entirely (tests, proxies).
	HTTPClient aws.HTTPClient
	// Watch, when set, sees every call, so a target that stops answering ends the run.
	Watch *TargetWatch
}

// NewLambdaClient builds a Lambda client for AWS (endpoint empty: the default credential chain
// and region) or for a local target (endpoint set: static dummy credentials, so no developer
// credentials are ever sent to an emulator, and a fixed BaseEndpoint).
func NewLambdaClient(ctx context.Context, endpoint, region string, opts ClientOptions) (*lambda.Client, error) {
	retryer := func() aws.Retryer { return aws.NopRetryer{} }
	if opts.AdaptiveRetry {
		retryer = func() aws.Retryer {
			var r aws.Retryer = retry.NewAdaptiveMode()
			if opts.MaxAttempts > 0 {
				r = retry.AddWithMaxAttempts(r, opts.MaxAttempts)
			}
			return r
		}
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		conns := opts.MaxConnsPerHost
		if conns <= 0 {
			conns = 64
		}
		httpClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = conns
		})
	}
	if opts.Watch != nil {
		httpClient = opts.Watch.Wrap(httpClient)
	}

	var cfg aws.Config
	if endpoint != "" {
		if region == "" {
			region = "us-east-1"
		}
		cfg = aws.Config{
			Region:      region,
			Credentials: credentials.NewStaticCredentialsProvider("tenantcheck", "tenantcheck", ""),
			Retryer:     retryer,
			HTTPClient:  httpClient,
		}
	} else {
		loadOpts := []func(*config.LoadOptions) error{
			config.WithRetryer(retryer),
			config.WithHTTPClient(httpClient),
		}
		if region != "" {
			loadOpts = append(loadOpts, config.WithRegion(region))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, loadOpts...)
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		if cfg.Region == "" {
			return nil, errors.New("load AWS config: no region set (use --region or AWS_REGION)")
		}
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
