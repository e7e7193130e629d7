package runner_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/fixtures/seaweed"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// s3Tenants are the tests' tenants (a case pair included); the benchmark uses all four, the
// end-to-end test the first three, which keeps it quick under -race.
var s3Tenants = []string{"blue", "green", "Blue", "tenant 4"}

// startSeaweed starts SeaweedFS for one test or benchmark (building it first if the cache is
// empty); TENANTCHECK_NO_SEAWEED=1 is the only way to skip.
func startSeaweed(tb testing.TB) *seaweed.Server {
	tb.Helper()
	if os.Getenv("TENANTCHECK_NO_SEAWEED") == "1" {
		tb.Skip("TENANTCHECK_NO_SEAWEED=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s, err := seaweed.Ensure(ctx, seaweed.Options{Progress: os.Stderr})
	if err != nil {
		tb.Fatalf("start SeaweedFS: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop SeaweedFS: %v", err)
		}
	})
	return s
}

// probeOnBuiltin starts the built-in target with the given emulator faults and deploys this
// test binary as the probe.
func probeOnBuiltin(tb testing.TB, faults ...string) (*lambda.Client, string) {
	tb.Helper()
	srv, err := emulator.New(emulator.Config{Faults: faults, FaultRate: 1})
	if err != nil {
		tb.Fatalf("emulator.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatalf("start built-in target: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	c, err := runner.NewLambdaClient(context.Background(), srv.Endpoint(), "", runner.ClientOptions{})
	if err != nil {
		tb.Fatalf("lambda client: %v", err)
	}
	d, err := probefn.Deploy(context.Background(), c, probefn.Spec{Function: probes.Function{Zip: selfZip(tb), Timeout: 10 * time.Second, PerTenant: true}})
	if err != nil {
		tb.Fatalf("deploy probe: %v", err)
	}
	return c, d.Name
}

// s3Run lays out data (with broker faults), runs the S3 phase and tears the data down.
func s3Run(tb testing.TB, s *seaweed.Server, c *lambda.Client, fn string, tenants []string, faults ...string) *runner.Observations {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := s3data.ForSeaweed(s, tenants)
	opts.Faults = faults
	fx, err := s3data.Setup(ctx, opts)
	if err != nil {
		tb.Fatalf("s3data.Setup: %v", err)
	}
	defer func() {
		if err := fx.Teardown(ctx); err != nil {
			tb.Errorf("teardown: %v", err)
		}
	}()
	inv := runner.Retrying(&runner.LambdaInvoker{Client: c}, runner.RetryPolicy{})
	so, err := runner.RunS3(ctx, inv, runner.S3Options{Function: fn, Phase: fx.Phase()})
	if err != nil {
		tb.Fatalf("RunS3: %v", err)
	}
	return &runner.Observations{RunID: "s3", Tenants: tenants, S3: so}
}

// TestS3PhaseEndToEnd runs the real chain: SeaweedFS, STS-minted credentials, the probe in
// the built-in target's environments, and the s3 checks judging what came back.
func TestS3PhaseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS and the built-in target")
	}
	s := startSeaweed(t)
	tests := []struct {
		name           string
		broker, target []string
		want           [4]reports.Status
	}{
		{"healthy", nil, nil, [4]reports.Status{reports.Pass, reports.Pass, reports.Pass, reports.Pass}},
		{"broad-credentials", []string{s3data.FaultBroadCredentials}, nil,
			[4]reports.Status{reports.Pass, reports.Fail, reports.Pass, reports.Pass}},
		{"wrong-tenant-policy", []string{s3data.FaultWrongTenantPolicy}, nil,
			[4]reports.Status{reports.Fail, reports.Fail, reports.Pass, reports.Pass}},
		{"target shares environments", nil, []string{string(emulator.FaultSharedPool)},
			[4]reports.Status{reports.Pass, reports.Pass, reports.Pass, reports.Fail}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, fn := probeOnBuiltin(t, tc.target...)
			obs := s3Run(t, s, c, fn, s3Tenants[:3], tc.broker...)
			for _, o := range obs.S3.Items {
				if o.Report == nil {
					t.Fatalf("invocation %d for %q: no report (%s %s %s)", o.Seq, o.Tenant, o.Err, o.FunctionError, o.ErrorType)
				}
			}
			res := suites.Evaluate(suites.S3Checks(), obs)
			for i, r := range res {
				if r.Status != tc.want[i] {
					t.Errorf("%s = %s, want %s: %s %v", r.ID, r.Status, tc.want[i], r.Reason, r.Evidence)
				}
			}
			// Nothing the run recorded or judged may carry a credential.
			js, _ := json.Marshal(struct {
				O *runner.Observations
				R []reports.CheckResult
			}{obs, res})
			for _, cred := range obs.S3.Credentials {
				if !strings.Contains(string(js), cred.Fingerprint) {
					t.Errorf("fingerprint %s of %s not recorded", cred.Fingerprint, cred.Tenant)
				}
			}
			if strings.Contains(string(js), "secretAccessKey") || strings.Contains(string(js), "sessionToken") {
				t.Error("recorded observations carry credential fields")
			}
		})
	}
}

// BenchmarkS3Phase measures the S3 phase for 4 tenants on SeaweedFS and the built-in target:
// setup (buckets, secrets, 8 AssumeRole calls), 16 invocations, teardown.
func BenchmarkS3Phase(b *testing.B) {
	s := startSeaweed(b)
	c, fn := probeOnBuiltin(b)
	for b.Loop() {
		t0 := time.Now()
		obs := s3Run(b, s, c, fn, s3Tenants)
		b.ReportMetric(time.Since(t0).Seconds(), "phase-s")
		b.ReportMetric(obs.S3.Elapsed.Seconds(), "invoke-s")
	}
}
