package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
	"github.com/tenantcheck/tenantcheck/suites"
)

// TestRuntimeAPIPeersOnBuiltinTarget: the real probe, offered other tenants' Runtime API
// addresses by the runner, is turned away by the built-in target's guard (TI-RAPI-001 PASS)
// and gets in when the open-runtime-api fault disables it (FAIL, with the held /next as evidence).
func TestRuntimeAPIPeersOnBuiltinTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the probe on the built-in target")
	}
	tests := []struct {
		fault   string
		want    reports.Status
		outcome []string // outcomes the attempts may have
	}{
		// A healthy target serves each Runtime API inside the environment's own network
		// namespace, so a peer's address is refused; where the host cannot give one, the uid
		// guard turns the knock away instead (reset or closed).
		{want: reports.Pass, outcome: []string{probes.PeerRefused, probes.PeerReset, probes.PeerClosed}},
		{fault: string(emulator.FaultOpenRuntimeAPI), want: reports.Fail, outcome: []string{probes.PeerAnswered}},
	}
	for _, tt := range tests {
		name := tt.fault
		if name == "" {
			name = "healthy"
		}
		t.Run(name, func(t *testing.T) {
			var faults []string
			if tt.fault != "" {
				faults = []string{tt.fault}
			}
			srv, c := builtin(t, emulator.Config{Faults: faults})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			iso, err := runner.FetchIsolation(ctx, srv.Endpoint())
			if err != nil {
				t.Fatal(err)
			}
			if iso != nil && iso.Missing["runtime-api"] != "" {
				t.Skipf("this host cannot guard the Runtime API: %s", iso.Missing["runtime-api"])
			}
			outcomes := tt.outcome
			if tt.fault == "" && iso != nil && iso.Missing["network"] == "" {
				outcomes = []string{probes.PeerRefused} // its own namespace: nothing listens there
			}
			obs := pingPong(t, ctx, c, 3)
			obs.Target.Isolation = iso

			attempts := 0
			for _, o := range obs.Items {
				if o.Report == nil && o.Action != "" {
					continue // ErrorRate -1 still sprinkles errors: Plan applies withDefaults twice
				}
				if o.Report == nil {
					t.Fatalf("seq %d: no report (action %q, %s %s)", o.Seq, o.Action, o.Err, o.ErrorType)
				}
				for _, a := range o.Report.PeerAttempts {
					attempts++
					ok := false
					for _, want := range outcomes {
						ok = ok || a.Outcome == want
					}
					if !ok {
						t.Errorf("seq %d: attempt %+v, want an outcome in %v", o.Seq, a, outcomes)
					}
					if a.Addr == o.Report.RuntimeAPI {
						t.Errorf("seq %d: knocked on its own Runtime API %s", o.Seq, a.Addr)
					}
				}
			}
			if attempts == 0 {
				t.Fatal("no invocation knocked on another environment's Runtime API")
			}

			checks, err := suites.Select(suites.All(), []string{"TI-RAPI-001", "TI-ENV-001"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range suites.Evaluate(checks, obs) {
				t.Logf("%s %s: %s", r.ID, r.Status, r.Reason)
				want := reports.Pass
				if r.ID == "TI-RAPI-001" {
					want = tt.want
				}
				if r.Status != want {
					t.Errorf("%s: %s (%s), want %s; evidence %v", r.ID, r.Status, r.Reason, want, r.Evidence)
				}
				if r.Status == reports.Fail && r.Evidence[0].Fields["peerTenants"] == "" {
					t.Errorf("evidence does not name the peer's tenant: %+v", r.Evidence[0])
				}
			}
		})
	}
}
