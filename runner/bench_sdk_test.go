package runner_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/runner"
)

// BenchmarkRunnerOverheadVsBareSDK measures what runner.Run adds per invocation on a real
// target: the built-in target with the probe deployed PER_TENANT (once per side, see below),
// two warm tenants, the same tenant order (taken from runner.Plan) and the same number of
// sequential invocations, once as a bare lambda.Client.Invoke loop and once through Run
// (ping-pong, concurrency 1, no sprinkled errors). Both sides pay the probe's work, so the
// ratio isolates the runner's own cost (goal ratio <= 1.10). ns/op is the sum of one
// invocation of each.
//
// The one thing Run sends that the bare loop does not is RuntimeAPIPeers on about one
// invocation in four (see runner/peers.go), which makes the probe knock on the other tenant's
// Runtime API; peer-knocks/inv reports how many did. report-decode-ns/inv is what decoding
// the probe's report costs (timed beside the bare loop, outside its figure): Run must decode
// every report, and a warm probe's report runs to ~100 KB.
func BenchmarkRunnerOverheadVsBareSDK(b *testing.B) {
	c, bareFn := probeOnBuiltin(b)
	ctx := context.Background()
	// The probe leaves a canary per invocation in its environment and scans them all on the
	// next, so an invocation costs more the more came before it. Each side gets a function of
	// its own, hence environments of its own that start equally fresh.
	d, err := probefn.Deploy(ctx, c, probefn.Spec{Function: probes.Function{Zip: selfZip(b), Timeout: 10 * time.Second, PerTenant: true}})
	if err != nil {
		b.Fatalf("deploy the second probe: %v", err)
	}
	runFn := d.Name
	tenants := []runner.Tenant{{ID: "bench-blue"}, {ID: "bench-green"}}
	for _, fn := range []string{bareFn, runFn} {
		for _, t := range tenants {
			bareInvoke(b, ctx, c, fn, t.ID, 0) // cold starts are not what is measured
		}
	}
	opts := runner.Options{
		Function: runFn, Fixed: tenants, Schedules: []string{runner.SchedulePingPong},
		Invocations: b.N, Concurrency: 1, ErrorRate: -1, MaxTimeouts: -1, Seed: 1,
	}
	phases, err := runner.Plan(opts, tenants)
	if err != nil || len(phases) != 1 || len(phases[0].Steps) != b.N {
		b.Fatalf("plan: %v (%d phases)", err, len(phases))
	}

	b.ResetTimer()
	var decode time.Duration
	start := time.Now()
	for i, st := range phases[0].Steps {
		payload := bareInvoke(b, ctx, c, bareFn, tenants[st.Tenant].ID, int64(i+1))
		// Not part of the baseline: timed apart to show how much of the overhead is Run
		// decoding the probe's report, which it must do and the bare loop need not.
		t0 := time.Now()
		var rep probes.Report
		if err := json.Unmarshal(payload, &rep); err != nil {
			b.Fatalf("decode report: %v", err)
		}
		decode += time.Since(t0)
	}
	bare := time.Since(start) - decode

	start = time.Now()
	obs, err := runner.Run(ctx, &runner.LambdaInvoker{Client: c}, opts)
	run := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("run: %v", err)
	}
	if len(obs.Items) != b.N {
		b.Fatalf("run made %d invocations, want %d", len(obs.Items), b.N)
	}
	knocks := 0
	for _, ob := range obs.Items {
		if ob.Action != probes.ActionNone || ob.Err != "" || ob.FunctionError != "" || ob.Report == nil {
			b.Fatalf("seq %d: action %q err %q function error %q report %v: want a clean probe report",
				ob.Seq, ob.Action, ob.Err, ob.FunctionError, ob.Report != nil)
		}
		if len(ob.Report.PeerAttempts) > 0 {
			knocks++
		}
	}

	bareNs := float64(bare.Nanoseconds()) / float64(b.N)
	runNs := float64(run.Nanoseconds()) / float64(b.N)
	b.ReportMetric(bareNs, "bare-ns/inv")
	b.ReportMetric(runNs, "run-ns/inv")
	b.ReportMetric(runNs/bareNs, "ratio")
	b.ReportMetric(float64(knocks)/float64(b.N), "peer-knocks/inv")
	b.ReportMetric(float64(decode.Nanoseconds())/float64(b.N), "report-decode-ns/inv")
}

// bareInvoke is the baseline: one synchronous Invoke with a minimal probe event and nothing
// around it but a success check. It returns the probe's report, undecoded.
func bareInvoke(b *testing.B, ctx context.Context, c *lambda.Client, fn, tenant string, seq int64) []byte {
	b.Helper()
	payload, err := json.Marshal(probes.Event{Schema: probes.SchemaVersion, RunID: "bare", Tenant: tenant, Seq: seq})
	if err != nil {
		b.Fatalf("encode event: %v", err)
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := c.Invoke(ictx, &lambda.InvokeInput{FunctionName: aws.String(fn), TenantId: aws.String(tenant), Payload: payload})
	if err != nil {
		b.Fatalf("invoke as %s: %v", tenant, err)
	}
	if out.FunctionError != nil {
		b.Fatalf("invoke as %s: function error %s: %s", tenant, *out.FunctionError, out.Payload)
	}
	return out.Payload
}
