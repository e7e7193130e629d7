package runner_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
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
				APIGateway: runner.NewAPIGatewayClient(c), NoisyDuration: time.Second})
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
