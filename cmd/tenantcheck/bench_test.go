package main

import (
	"os/exec"
	"testing"
	"time"
)

// BenchmarkDefaultRun times the README's main job, `tenantcheck run` with every default (all
// areas, 800 invocations, the built-in target, SeaweedFS started for the run), as a user runs it:
// the plain binary in its own process. Goal: under 10 s on the 2-core development machine.
//
//	go test -run '^$' -bench DefaultRun -benchtime 3x ./cmd/tenantcheck
func BenchmarkDefaultRun(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		out, err := exec.Command(probeBinary, "run", "--seed", "1").CombinedOutput()
		if err != nil {
			b.Fatalf("default run: %v\n%s", err, out)
		}
		total += time.Since(t0)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/run")
}
