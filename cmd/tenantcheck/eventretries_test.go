package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestEventRetriesReadsTheFunctionsConfig: the run expects as many retries as the function's
// event invoke config allows, none (and says why) when it allows none, and Lambda's default when
// there is no config or it cannot be read.
func TestEventRetriesReadsTheFunctionsConfig(t *testing.T) {
	target := startTarget(t, emulator.Config{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := runner.NewLambdaClient(ctx, target.Endpoint(), "us-east-1", runner.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zip, err := probefn.ZipExecutable(probeBinary)
	if err != nil {
		t.Fatal(err)
	}
	const fn = "retry-config-probe"
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn), Role: aws.String("arn:aws:iam::000000000000:role/probe"),
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Code:          &types.FunctionCode{ZipFile: zip},
		TenancyConfig: &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant},
	}); err != nil {
		t.Fatalf("create %s: %v", fn, err)
	}
	// A role without lambda:GetFunctionEventInvokeConfig, as AWS answers it.
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"Message":"not authorized to perform: lambda:GetFunctionEventInvokeConfig"}`))
	}))
	defer denied.Close()
	deniedClient, err := runner.NewLambdaClient(ctx, denied.URL, "us-east-1", runner.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		client   *lambda.Client
		put      *int32 // MaximumRetryAttempts to configure first; nil configures nothing
		want     int
		wantNone string
		wantLog  string
	}{
		{"no config", c, nil, 0, "", ""},
		{"one retry", c, aws.Int32(1), 1, "", ""},
		{"no retries", c, aws.Int32(0), 0, "MaximumRetryAttempts to 0", ""},
		{"not allowed to read it", deniedClient, nil, 0, "", "could not read the function's event invoke config, so TI-API-013 expects Lambda's default of 2 retries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.put != nil {
				if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
					FunctionName: aws.String(fn), MaximumRetryAttempts: tt.put,
				}); err != nil {
					t.Fatalf("put event invoke config: %v", err)
				}
			}
			var stderr strings.Builder
			s := &session{f: &runFlags{}, client: tt.client, function: fn, stderr: &stderr}
			got, none := s.eventRetries(ctx)
			if got != tt.want || !strings.Contains(none, tt.wantNone) || (tt.wantNone == "") != (none == "") {
				t.Errorf("eventRetries = %d, %q; want %d, %q", got, none, tt.want, tt.wantNone)
			}
			if !strings.Contains(stderr.String(), tt.wantLog) || (tt.wantLog == "") != (stderr.Len() == 0) {
				t.Errorf("logged %q, want %q", stderr.String(), tt.wantLog)
			}
		})
	}
}
