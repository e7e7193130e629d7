package runner_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/s3data"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestRunGatewayRecordsTheFrontDoor runs the gateway phase against the built-in target, healthy
// and with one gateway fault, and checks the raw facts it records: where each request landed,
// and the noisy neighbour's counts (judging them is the suites' job).
func TestRunGatewayRecordsTheFrontDoor(t *testing.T) {
	for _, tc := range []struct {
		fault string
		check func(t *testing.T, g *runner.GatewayObservations)
	}{
		{"", func(t *testing.T, g *runner.GatewayObservations) {
			for _, r := range g.Requests {
				broken := strings.HasPrefix(r.Case, runner.GatewayToken+"/") && r.Case != runner.GatewayToken+"/valid"
				switch {
				case broken && (r.Status != http.StatusUnauthorized || r.Reached != ""):
					t.Errorf("%s: %d, reached %q; want 401 and no environment", r.Case, r.Status, r.Reached)
				case !broken && (r.Status != http.StatusOK || r.Reached != r.TokenTenant):
					t.Errorf("%s: %d %s %s, reached %q; want 200 and %s", r.Case, r.Status, r.Body, r.Reason, r.Reached, r.TokenTenant)
				}
			}
			nn := g.Noisy
			if nn == nil || nn.Noisy.Throttled == 0 || nn.Quiet.Throttled != 0 || nn.Quiet.Other != 0 || nn.Quiet.OK == 0 {
				t.Errorf("noisy neighbour: %+v", nn)
			}
		}},
		{string(emulator.FaultTrustClientHeader), func(t *testing.T, g *runner.GatewayObservations) {
			spoofed := 0
			for _, r := range g.Requests {
				if r.Spoof != "" && r.Reached == r.Spoof {
					spoofed++
				}
			}
			if spoofed == 0 {
				t.Errorf("no spoofed request reached the client's tenant: %+v", g.Requests)
			}
		}},
	} {
		t.Run("fault="+tc.fault, func(t *testing.T) {
			var faults []string
			if tc.fault != "" {
				faults = []string{tc.fault}
			}
			srv, c := builtin(t, emulator.Config{Faults: faults})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			opts := contractOpts(t, testCap)
			g, err := runner.RunGateway(ctx, c, runner.GatewayOptions{ContractOptions: opts, URL: srv.GatewayURL(),
				APIGateway: runner.NewAPIGatewayClient(c)})
			if err != nil {
				t.Fatalf("RunGateway: %v (errors %v)", err, g.Errors)
			}
			if g.NotRun != "" || len(g.Errors) > 0 || g.API == "" {
				t.Fatalf("phase: not run %q, errors %v", g.NotRun, g.Errors)
			}
			tc.check(t, g)
			// Everything the phase made is gone.
			if out, err := runner.NewAPIGatewayClient(c).GetRestApis(ctx, nil); err != nil || len(out.Items) != 0 {
				t.Errorf("REST APIs left behind: %+v, %v", out, err)
			}
		})
	}
}

// BenchmarkGatewayNoisyNeighbour runs the gateway phase against the built-in target and reports
// the noisy-neighbour counts: how many of the noisy tenant's requests the metered plan admitted
// and throttled, and how many of the quiet tenant's were throttled (0 on a healthy target), with
// the quiet tenant's p50 latency under the flood as the figure a reader compares, never judges.
func BenchmarkGatewayNoisyNeighbour(b *testing.B) {
	srv, c := builtin(b, emulator.Config{})
	var admitted, throttled, quiet429, quietP50 float64
	for i := 0; i < b.N; i++ {
		g, err := runner.RunGateway(context.Background(), c, runner.GatewayOptions{ContractOptions: contractOpts(b, testCap),
			URL: srv.GatewayURL(), APIGateway: runner.NewAPIGatewayClient(c)})
		if err != nil || g.Noisy == nil {
			b.Fatalf("RunGateway: %v (%v)", err, g.Errors)
		}
		admitted += float64(g.Noisy.Noisy.OK)
		throttled += float64(g.Noisy.Noisy.Throttled)
		quiet429 += float64(g.Noisy.Quiet.Throttled)
		quietP50 += float64(g.Noisy.Quiet.P50) / float64(time.Millisecond)
	}
	n := float64(b.N)
	b.ReportMetric(admitted/n, "noisy-admitted/op")
	b.ReportMetric(throttled/n, "noisy-429/op")
	b.ReportMetric(quiet429/n, "quiet-429/op")
	b.ReportMetric(quietP50/n, "quiet-p50-ms")
}

// TestGatewayTalkFlow puts the talk's whole flow through the built-in target: a JWT the runner
// signs, the authorizer that ships with tenantcheck verifying it and minting STS credentials on
// SeaweedFS with the tenant's session policy, the tenant mapped from the authorizer's context to
// X-Amz-Tenant-Id, the PER_TENANT environment of that tenant, and there the function reading its
// own S3 data and being denied the other tenant's. Under authorizer-broad-credentials the same
// flow reaches the other tenant's data.
func TestGatewayTalkFlow(t *testing.T) {
	sw := startSeaweed(t)
	for _, tc := range []struct {
		fault     string
		wantOther bool
	}{{"", false}, {string(emulator.FaultBroadCredentials), true}} {
		t.Run("fault="+tc.fault, func(t *testing.T) {
			var faults []string
			if tc.fault != "" {
				faults = []string{tc.fault}
			}
			srv, c := builtin(t, emulator.Config{Faults: faults})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			opts := contractOpts(t, testCap)
			opts.Forwarder = runner.EndpointForwarder{Endpoint: srv.Endpoint()}
			g, err := runner.RunGateway(ctx, c, runner.GatewayOptions{ContractOptions: opts, URL: srv.GatewayURL(),
				APIGateway: runner.NewAPIGatewayClient(c),
				S3: func(ctx context.Context, runID string, tenants []string) (*runner.GatewayS3, error) {
					so := s3data.ForSeaweed(sw, tenants)
					so.RunID = runID
					return s3data.ForGateway(ctx, so)
				}})
			if err != nil || g.CredsNotRun != "" {
				t.Fatalf("RunGateway: %v; credentials case: %q; errors %v", err, g.CredsNotRun, g.Errors)
			}
			seen := 0
			for _, r := range g.Requests {
				if !strings.HasPrefix(r.Case, runner.GatewayCreds+"/") {
					continue
				}
				seen++
				if r.Status != http.StatusOK || r.Reached != r.TokenTenant {
					t.Fatalf("%s: %d %s %s, reached %q; want the token's tenant %s", r.Case, r.Status, r.Body, r.Reason, r.Reached, r.TokenTenant)
				}
				ownOK, otherOK := false, false
				for _, a := range r.S3 {
					if a.Own && a.Allowed && a.Op == "GetObject" {
						ownOK = true
					}
					if !a.Own && a.Allowed {
						otherOK = true
					}
				}
				if !ownOK || otherOK != tc.wantOther {
					t.Errorf("%s: own data read %v, another tenant's reached %v (want %v): %+v", r.Case, ownOK, otherOK, tc.wantOther, r.S3)
				}
			}
			if seen != 2 {
				t.Fatalf("%d credentials requests, want one per tenant", seen)
			}
		})
	}
}
