package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestRunReadsTheFunctionsOwnLogGroup: `run --function` on a function that logs into a group of
// its own (LoggingConfig.LogGroup) reads its async reports and its logs there, not in
// /aws/lambda/<name>, where there is nothing to find.
func TestRunReadsTheFunctionsOwnLogGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts environments")
	}
	t.Parallel()
	target := startTarget(t, emulator.Config{Addr: "127.0.0.1:0", MaxEnvironments: 24})
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
	const fn, group = "own-group-probe", "/tenantcheck-test/own-group"
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn), Role: aws.String("arn:aws:iam::000000000000:role/probe"),
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), Timeout: aws.Int32(3),
		Code:          &types.FunctionCode{ZipFile: zip},
		TenancyConfig: &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant},
		LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson, LogGroup: aws.String(group)},
	})
	if err != nil {
		t.Fatalf("create %s: %v", fn, err)
	}

	path := filepath.Join(t.TempDir(), "r.json")
	code, out, errOut := runBinary(t, "run", "--endpoint-url", target.Endpoint(), "--function", fn,
		"--invocations", "60", "--seed", "7", "--async-channel", "logs", "--checks", "logs,TI-API-008",
		"--logs-wait", "20s", "--format", "json", "--out", path)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	st := statuses(readReport(t, path))
	for id, r := range st {
		if r.Status != reports.Pass && r.Status != reports.Skip {
			t.Errorf("%s = %s (%s)", id, r.Status, r.Reason)
		}
	}
	if got := st["TI-API-008"]; got.Status != reports.Pass {
		t.Errorf("TI-API-008 = %s (%s): the async reports were not found in %s", got.Status, got.Reason, group)
	}
}

// startTarget runs a built-in target in this process for one test and stops it afterwards.
func startTarget(t *testing.T, cfg emulator.Config) *emulator.Server {
	t.Helper()
	target, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := target.Close(); err != nil {
			t.Errorf("stop the built-in target: %v", err)
		}
	})
	return target
}
