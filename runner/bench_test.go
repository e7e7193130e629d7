package runner

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// noopInvoker answers every invocation at once with the same probe report, so a benchmark
// measures only what the runner adds around an invocation.
type noopInvoker struct{ payload []byte }

func newNoopInvoker(b *testing.B) *noopInvoker {
	p, err := json.Marshal(probes.Report{Schema: probes.SchemaVersion, EnvID: "env-1", RunID: "r", Tenant: "t",
		Planted: []probes.PlantResult{{Place: probes.PlaceMemory, Planted: true}, {Place: probes.PlaceTmp, Planted: true}}})
	if err != nil {
		b.Fatal(err)
	}
	return &noopInvoker{payload: p}
}

func (n *noopInvoker) Invoke(context.Context, InvokeRequest) (InvokeResponse, error) {
	return InvokeResponse{StatusCode: 200, Payload: n.payload}, nil
}

// BenchmarkRunOverhead compares Run against a bare loop calling the same no-op invoker and
// reports both per-invocation costs and their ratio. ns/op is the sum of both halves.
func BenchmarkRunOverhead(b *testing.B) {
	for _, bc := range []struct {
		schedule    string
		concurrency int
	}{
		{SchedulePingPong, 1},
		{ScheduleRandom, 4},
		{ScheduleBurst, 4},
	} {
		b.Run(bc.schedule, func(b *testing.B) {
			inv := newNoopInvoker(b)
			ctx := context.Background()
			req := InvokeRequest{Function: "f", Tenant: "t", Payload: []byte(`{}`)}
			b.ReportAllocs()
			b.ResetTimer()

			start := time.Now()
			for range b.N {
				if _, err := inv.Invoke(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			bare := time.Since(start)

			start = time.Now()
			obs, err := Run(ctx, inv, Options{
				Function: "f", Schedules: []string{bc.schedule}, Invocations: b.N,
				Concurrency: bc.concurrency, ErrorRate: -1,
			})
			run := time.Since(start)
			if err != nil || len(obs.Items) != b.N {
				b.Fatalf("run: %v, %d items", err, len(obs.Items))
			}
			bareNs := float64(bare.Nanoseconds()) / float64(b.N)
			runNs := float64(run.Nanoseconds()) / float64(b.N)
			b.ReportMetric(bareNs, "bare-ns/inv")
			b.ReportMetric(runNs, "run-ns/inv")
			b.ReportMetric(runNs-bareNs, "overhead-ns/inv")
			b.ReportMetric(runNs/max(bareNs, 1e-3), "ratio")
		})
	}
}

// BenchmarkPlan measures planning alone, which Run does up front for every invocation.
func BenchmarkPlan(b *testing.B) {
	tenants := Tenants(newTestRand(), 4)
	opts := Options{Invocations: 1000, Concurrency: 4, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Plan(opts, tenants); err != nil {
			b.Fatal(err)
		}
	}
}
