package main

import (
	"context"
	"io"

	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/runner"
)

// target is everything that differs between the three kinds of target a run can test: the
// built-in one it starts in-process, another Lambda-compatible endpoint, and an AWS account.
// The run itself (execute) only sequences phases and never asks which kind it has; a new kind
// (an API Gateway front door, say) is one more implementation of this interface.
type target interface {
	// open stands the target up (when the run owns it) and makes its Lambda client
	// (s.client, s.endpoint, s.label); what it starts it stops through s.defer_.
	open(ctx context.Context, s *session) error
	// autoAsyncChannel is what --async-channel auto means here.
	autoAsyncChannel(s *session) string
	// newLogsClient makes the target's CloudWatch Logs client.
	newLogsClient(ctx context.Context, s *session) (runner.LogsClient, error)
	// deploy puts the probe in place (s.function, and s.role and s.stack where the target has
	// them), or adopts the one --function names.
	deploy(ctx context.Context, s *session) error
	// probeZip packages the probe for this target's CPU; arch is the Lambda architecture to
	// give functions made from it ("" leaves the target's default).
	probeZip(ctx context.Context, s *session) (zip []byte, arch string, err error)
	// logGroup is where the function under test logs.
	logGroup(ctx context.Context, s *session) string
	// contract adjusts the contract phase's options for this target; a non-empty skip says
	// why the phase cannot run here.
	contract(s *session, o *runner.ContractOptions) (skip string)
	// startS3 begins whatever the s3 area needs that takes time (a local S3 server), so it
	// overlaps the isolation schedules; s3Setup then waits for it.
	startS3(ctx context.Context, s *session)
	// quickWaits reports whether the target answers retries and log reads within seconds (a
	// target on this machine), so the run's length follows its forecast.
	quickWaits() bool
	// s3Setup says where and how the s3 area lays out tenant data for tenants, or returns the
	// phase's result (SKIP or ERROR with the reason) when it cannot run.
	s3Setup(ctx context.Context, s *session, tenants []string) (s3data.SetupOptions, *runner.S3Observations)
	// gatewayURL is where the target's REST API front door answers, or why the gateway area
	// cannot run on it (skip).
	gatewayURL(ctx context.Context, s *session) (url, skip string)
	// declaredIsolation is what the target says it cannot isolate on its host (nil: it
	// declares nothing, as AWS does).
	declaredIsolation(ctx context.Context, s *session) *runner.Isolation
	// describe tells `run --dry-run` what this target would be, create and skip.
	describe(ctx context.Context, f *runFlags) (targetPlan, error)
}

// targetPlan is a target's own part of the dry run, in the order the plan prints it.
type targetPlan struct {
	target string // what is tested
	// probe says what would be deployed; printProbe, when set, prints it instead (an AWS stack
	// prints its own multi-line plan).
	probe      string
	printProbe func(w io.Writer) error
	s3         string // the s3 area's line
	// contractSkip, when set, is the contract area's only line: the phase cannot run.
	contractSkip string
	// gatewaySkip, when set, is the gateway area's only line: the target has no front door.
	gatewaySkip string
	// contractNote and lifecycleNote follow their area's line (what will SKIP within it).
	contractNote, lifecycleNote string
}

// newTarget chooses the target the flags name.
func newTarget(f *runFlags) target {
	switch {
	case f.useAWS:
		return &awsTarget{}
	case f.endpoint != "":
		return &endpointTarget{}
	default:
		return &builtinTarget{}
	}
}
