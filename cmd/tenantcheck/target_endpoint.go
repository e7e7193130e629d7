package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/fixtures/seaweed"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/runner"
)

// endpointTarget is any Lambda-compatible endpoint given with --endpoint-url. It runs on this
// machine's binary (the probe is this executable), may declare what it cannot isolate, and uses
// a local SeaweedFS for the s3 area unless --s3-endpoint names another service.
type endpointTarget struct {
	s3 *s3Backend
}

func (t *endpointTarget) open(ctx context.Context, s *session) error {
	s.endpoint, s.label = s.f.endpoint, s.f.endpoint
	return t.dial(ctx, s)
}

// dial makes the Lambda client of s.endpoint; adaptive retry only off loopback, where a real
// service's throttling is worth slowing down for.
func (t *endpointTarget) dial(ctx context.Context, s *session) error {
	s.logf("target %s, seed %d", s.endpoint, s.f.seed)
	c, err := runner.NewLambdaClient(ctx, s.endpoint, s.f.region(), runner.ClientOptions{AdaptiveRetry: !runner.IsLoopback(s.endpoint), Watch: s.watch})
	if err != nil {
		return toolError("lambda client: %w", err)
	}
	s.client = c
	s.frontDoor = &runner.FrontDoor{Endpoint: s.endpoint, Region: s.f.region()}
	if runner.IsLoopback(s.endpoint) {
		s.forwarder = runner.EndpointForwarder{Endpoint: s.endpoint}
	}
	return nil
}

// autoAsyncChannel takes the loopback sink when the target runs on this machine (it can reach
// 127.0.0.1) and nothing for a remote endpoint, whose Logs API may not exist: its async checks
// then SKIP rather than wait in vain.
func (t *endpointTarget) autoAsyncChannel(s *session) string {
	if runner.IsLoopback(s.endpoint) {
		return runner.AsyncChannelSink
	}
	return runner.AsyncChannelNone
}

func (t *endpointTarget) newLogsClient(ctx context.Context, s *session) (runner.LogsClient, error) {
	lc, err := runner.NewLogsClient(ctx, s.endpoint, s.f.region())
	if err != nil {
		return nil, fmt.Errorf("logs client: %w", err)
	}
	return lc, nil
}

func (t *endpointTarget) deploy(ctx context.Context, s *session) error {
	if s.f.function != "" {
		s.function = s.f.function
		return nil
	}
	t0 := time.Now()
	zip, _, err := s.probeZip(ctx)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, s.f.deployTimout)
	defer cancel()
	d, err := probefn.Deploy(dctx, s.client, probefn.Spec{Function: probes.Function{Zip: zip, Timeout: s.f.fnTimeout, PerTenant: true}})
	if err != nil {
		return toolError("%w", err)
	}
	s.defer_(func(ctx context.Context) error {
		if err := probefn.Teardown(ctx, s.client, d); err != nil {
			return toolError("teardown (function %s left behind): %w", d.ARN, err)
		}
		return nil
	})
	s.function = d.Name
	s.logf("deployed probe %s (%d KB zip) in %s", d.Name, len(zip)/1024, time.Since(t0).Round(time.Millisecond))
	s.dropZipUnlessNeeded()
	return nil
}

// probeZip is this executable (or --probe-binary): the target runs on this machine, whatever
// architecture a function says.
func (t *endpointTarget) probeZip(_ context.Context, s *session) ([]byte, string, error) {
	var zip []byte
	var err error
	if s.f.probeBinary != "" {
		zip, err = probefn.ZipExecutable(s.f.probeBinary)
	} else {
		zip, err = probefn.SelfZip("")
	}
	return zip, "", err
}

// logGroup is the function's LoggingConfig.LogGroup when it names one: reading the default group
// would then find nothing, and the async and logs checks would wait in vain.
func (t *endpointTarget) logGroup(ctx context.Context, s *session) string {
	fallback := runner.LogGroupName(s.function)
	if s.f.function == "" {
		return fallback // deployed just now, with the default group
	}
	cctx, cancel := context.WithTimeout(ctx, s.f.timeouts.Invoke)
	defer cancel()
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(s.function)}
	if s.f.qualifier != "" {
		in.Qualifier = aws.String(s.f.qualifier)
	}
	out, err := s.client.GetFunctionConfiguration(cctx, in)
	if err != nil {
		s.logf("warning: could not read the log group of %s (%v); reading %s", s.function, err, fallback)
		return fallback
	}
	if lc := out.LoggingConfig; lc != nil && aws.ToString(lc.LogGroup) != "" {
		return aws.ToString(lc.LogGroup)
	}
	return fallback
}

func (t *endpointTarget) contract(*session, *runner.ContractOptions) string { return "" }

func (t *endpointTarget) quickWaits() bool { return true }

// startS3 starts SeaweedFS in the background, so its few seconds of start-up overlap the
// isolation schedules.
func (t *endpointTarget) startS3(ctx context.Context, s *session) {
	t.s3 = &s3Backend{done: make(chan struct{})}
	if s.f.s3Endpoint != "" {
		close(t.s3.done)
		return
	}
	b := t.s3
	go func() {
		defer close(b.done)
		b.srv, b.err = seaweed.Ensure(ctx, seaweed.Options{Progress: prefixWriter{w: s.stderr}, NoBuild: s.f.noBuild})
	}()
	s.defer_(func(context.Context) error {
		if srv, _ := b.wait(); srv != nil {
			if err := srv.Stop(); err != nil {
				return toolError("stop SeaweedFS (pid %d): %w", srv.PID, err)
			}
		}
		return nil
	})
}

func (t *endpointTarget) s3Setup(_ context.Context, s *session, tenants []string) (s3data.SetupOptions, *runner.S3Observations) {
	if s.f.s3Endpoint != "" {
		return s3EndpointOptions(s.f, tenants), nil
	}
	srv, err := t.s3.wait()
	if errors.Is(err, seaweed.ErrNotBuilt) {
		return s3data.SetupOptions{}, runner.SkippedS3(err.Error())
	}
	if err != nil {
		return s3data.SetupOptions{}, runner.FailedS3(err.Error())
	}
	return s3data.ForSeaweed(srv, tenants), nil
}

// s3EndpointOptions points the s3 area at the service --s3-endpoint names, whatever the target.
func s3EndpointOptions(f *runFlags, tenants []string) s3data.SetupOptions {
	return s3data.SetupOptions{Endpoint: f.s3Endpoint, STSEndpoint: f.stsEndpoint, Region: f.region(), Tenants: tenants, Shared: true}
}

func (t *endpointTarget) declaredIsolation(ctx context.Context, s *session) *runner.Isolation {
	iso, err := runner.FetchIsolation(ctx, s.endpoint)
	if err != nil {
		s.logf("warning: %v; judging as if the target claims full isolation", err)
		return nil
	}
	return iso
}

func (t *endpointTarget) describe(_ context.Context, f *runFlags) (targetPlan, error) {
	return targetPlan{
		target:        f.endpoint,
		probe:         localProbePlan(f),
		s3:            localS3Plan(),
		contractNote:  "  TI-API-010 will SKIP: the environment-cap probe runs only against the built-in target, whose cap is known",
		lifecycleNote: "  TI-LIFE-003 will SKIP: the cap event runs only against the built-in target, whose cap is known; TI-LIFE-004 needs an idle timeout the target publishes",
	}, nil
}

// localProbePlan is the dry run's probe line for a target on this machine.
func localProbePlan(f *runFlags) string {
	if f.function != "" {
		return fmt.Sprintf("existing function %s (nothing deployed)", f.function)
	}
	return fmt.Sprintf("would create function tenantcheck-probe-<random> (provided.al2023, TenancyConfig PER_TENANT, timeout %s) and delete it at the end", f.fnTimeout)
}

// localS3Plan is the dry run's s3 line when the run lays out its own buckets.
func localS3Plan() string {
	d := runner.DefaultSettings()
	return fmt.Sprintf("%d tenant buckets and one shared bucket with a prefix per tenant, created and deleted; %d more invocations",
		d.S3Tenants, d.S3Tenants*2*d.S3Rounds)
}

// s3Backend is the local S3/STS service of the s3 area, or why there is none. It is started in
// the background; wait blocks until it is up or has failed, and may be called any number of
// times.
type s3Backend struct {
	done chan struct{}
	srv  *seaweed.Server
	err  error
}

func (b *s3Backend) wait() (*seaweed.Server, error) {
	<-b.done
	return b.srv, b.err
}

// gatewayURL is the front door the target declares (GET /_tenantcheck/v1/isolation's gatewayUrl):
// the built-in target and `tenantcheck emulator` declare theirs; another endpoint SKIPs the area.
func (t *endpointTarget) gatewayURL(ctx context.Context, s *session) (string, string) {
	iso := t.declaredIsolation(ctx, s)
	if iso == nil || iso.GatewayURL == "" {
		return "", "the endpoint declares no REST API front door (no gatewayUrl at GET /_tenantcheck/v1/isolation)"
	}
	return iso.GatewayURL, ""
}
