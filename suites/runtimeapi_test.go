package suites

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// withRuntimeAPIs gives each environment of the healthy fixture its own Runtime API address
// (env-a1 on port 1001, env-b1 on 2001), and lets every tenant-a report knock on tenant-b's
// address with the given outcome ("" knocks on nothing).
func withRuntimeAPIs(outcome string) func(*runner.Observations) {
	return func(obs *runner.Observations) {
		for i := range obs.Items {
			o := &obs.Items[i]
			if o.Report == nil {
				continue
			}
			switch o.Tenant {
			case "tenant-a":
				o.Report.RuntimeAPI = "127.0.0.1:1001"
				if outcome != "" {
					o.Report.PeerAttempts = []probes.PeerAttempt{{Addr: "127.0.0.1:2001", Outcome: outcome, Detail: "d"}}
				}
			case "tenant-b":
				o.Report.RuntimeAPI = "127.0.0.1:2001"
			}
		}
	}
}

// knockOnlyAt keeps the knocks of the given invocations (by seq) and drops the rest, and
// points them at addr when addr is not empty.
func knockOnlyAt(addr string, seqs ...int64) func(*runner.Observations) {
	return func(obs *runner.Observations) {
		for i := range obs.Items {
			o := &obs.Items[i]
			if o.Report == nil || len(o.Report.PeerAttempts) == 0 {
				continue
			}
			if !slices.Contains(seqs, o.Seq) {
				o.Report.PeerAttempts = nil
				continue
			}
			if addr != "" {
				for j := range o.Report.PeerAttempts {
					o.Report.PeerAttempts[j].Addr = addr
				}
			}
		}
	}
}

func TestRuntimeAPIPeers(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*runner.Observations)
		want   reports.Status
		reason string
		// evidence is how many attempts a FAIL names, 2 unless said.
		evidence int
	}{
		{name: "no attempts", mutate: withRuntimeAPIs(""), want: reports.Skip,
			reason: "no other environment's Runtime API address was distinguishable"},
		{name: "old probe reports nothing", mutate: func(*runner.Observations) {}, want: reports.Skip},
		{name: "reset", mutate: withRuntimeAPIs(probes.PeerReset), want: reports.Pass, reason: "1 of them while that environment was shown to be alive (2 reset"},
		// env-b1 served seq 2 and seq 4: only a knock between them (seq 3) finds it surely alive.
		{name: "refused before the peer was shown alive", want: reports.Inconclusive, reason: "none while that environment was shown to be alive",
			mutate: func(o *runner.Observations) { withRuntimeAPIs(probes.PeerRefused)(o); knockOnlyAt("", 1)(o) }},
		{name: "refused between the peer's invocations", want: reports.Pass, reason: "1 of them while",
			mutate: func(o *runner.Observations) { withRuntimeAPIs(probes.PeerRefused)(o); knockOnlyAt("", 3)(o) }},
		{name: "refused by an address nobody kept", want: reports.Inconclusive, reason: "may have hit recycled environments",
			mutate: func(o *runner.Observations) {
				withRuntimeAPIs(probes.PeerRefused)(o)
				knockOnlyAt("127.0.0.1:3001", 1, 3)(o)
			}},
		{name: "an answer fails whether or not the peer was shown alive", want: reports.Fail, reason: "1 of 1 attempts", evidence: 1,
			mutate: func(o *runner.Observations) { withRuntimeAPIs(probes.PeerAnswered)(o); knockOnlyAt("", 1)(o) }},
		{name: "refused", mutate: withRuntimeAPIs(probes.PeerRefused), want: reports.Pass},
		{name: "closed", mutate: withRuntimeAPIs(probes.PeerClosed), want: reports.Pass},
		{name: "answered", mutate: withRuntimeAPIs(probes.PeerAnswered), want: reports.Fail, reason: "2 of 2 attempts"},
		{name: "held is not proof", mutate: withRuntimeAPIs(probes.PeerHeld), want: reports.Inconclusive, reason: "2 held"},
		{name: "only errors", mutate: withRuntimeAPIs(probes.PeerError), want: reports.Inconclusive},
		{
			name: "mostly failed invocations", want: reports.Error,
			mutate: func(o *runner.Observations) { withRuntimeAPIs(probes.PeerReset)(o); addFailures(o, 10, true) },
		},
		{
			name: "declared gap", want: reports.Skip, reason: "runtime-api: the Runtime API cannot be authenticated",
			mutate: func(o *runner.Observations) {
				withRuntimeAPIs(probes.PeerHeld)(o)
				declareMissing(o, probes.PlaceRuntimeAPI)
				o.Target.Isolation.Missing[probes.PlaceRuntimeAPI] = "the Runtime API cannot be authenticated on this host"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := load(t, "healthy.json")
			tt.mutate(obs)
			got := Evaluate([]Check{checkByID(t, "TI-RAPI-001")}, obs)[0]
			if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("%s (%s), want %s with %q", got.Status, got.Reason, tt.want, tt.reason)
			}
			if got.Clause != "RT-05" || got.Level != reports.Must || got.Area != AreaIsolation {
				t.Errorf("described as %s %s %s", got.Clause, got.Level, got.Area)
			}
			if tt.want != reports.Fail {
				if len(got.Evidence) != 0 {
					t.Errorf("evidence without a failure: %+v", got.Evidence)
				}
				return
			}
			want := 2
			if tt.evidence > 0 {
				want = tt.evidence
			}
			if len(got.Evidence) != want {
				t.Fatalf("%d evidence entries, want one per attempt (%d): %+v", len(got.Evidence), want, got.Evidence)
			}
			f := got.Evidence[0].Fields
			for k, want := range map[string]string{
				"proberTenant": "tenant-a", "proberEnvId": "env-a1", "peerAddr": "127.0.0.1:2001",
				"peerTenants": "tenant-b", "peerEnvIds": "env-b1", "outcome": probes.PeerAnswered,
			} {
				if f[k] != want {
					t.Errorf("evidence %s = %q, want %q (%+v)", k, f[k], want, f)
				}
			}
			if f["proberRequestId"] == "" || f["proberSeq"] == "" {
				t.Errorf("evidence does not name the probing invocation: %+v", f)
			}
		})
	}
}
