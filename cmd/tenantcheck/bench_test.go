package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// BenchmarkScale runs the issue's large run, `run --checks isolation --tenants 10000
// --invocations 12000` on the built-in target, in its own process, and reports what scale costs:
// new-tenant invocations a second (invocations that were not a warm reuse, over the run's wall
// time), the machine's CPU per new environment (all processes, from /proc/stat, so the
// environments' own start and teardown count), the wall time, and the tenantcheck process's peak
// RSS (as the run reports it: the runner and the in-process target, environments excluded). A
// smaller size is given by TENANTCHECK_SCALE_TENANTS and TENANTCHECK_SCALE_INVOCATIONS.
//
//	go test -run '^$' -bench Scale -benchtime 1x -timeout 30m ./cmd/tenantcheck
func BenchmarkScale(b *testing.B) {
	tenants, invocations := envInt(b, "TENANTCHECK_SCALE_TENANTS", 10000), envInt(b, "TENANTCHECK_SCALE_INVOCATIONS", 12000)
	for b.Loop() {
		jsonPath := filepath.Join(b.TempDir(), "r.json")
		cpu0 := machineCPU(b)
		t0 := time.Now()
		cmd := exec.Command(probeBinary, "run", "--checks", "isolation", "--tenants", strconv.Itoa(tenants),
			"--invocations", strconv.Itoa(invocations), "--seed", "1", "--format", "json", "--out", jsonPath)
		out, err := cmd.CombinedOutput()
		wall := time.Since(t0)
		cpu := machineCPU(b) - cpu0
		if err != nil {
			b.Fatalf("scale run: %v\n%s", err, out)
		}
		rep := readReport(b, jsonPath)
		fresh := rep.Power.Invocations - rep.Power.WarmReuses
		b.ReportMetric(float64(fresh)/wall.Seconds(), "new-tenant-inv/s")
		b.ReportMetric(float64(cpu.Milliseconds())/float64(max(fresh, 1)), "cpu-ms/new-env")
		b.ReportMetric(wall.Seconds(), "s/run")
		if m := peakLine.FindSubmatch(out); m != nil {
			mb, _ := strconv.Atoi(string(m[1]))
			b.ReportMetric(float64(mb), "peak-RSS-MB")
		} else {
			b.Logf("the run printed no peak memory (it says it after a minute or more)")
		}
		b.Logf("%d invocations, %d warm, verdict exit %d", rep.Power.Invocations, rep.Power.WarmReuses, rep.Summary.ExitCode)
	}
}

// peakLine is what a run of a minute or more says of its memory (sayCost).
var peakLine = regexp.MustCompile(`peaked at (\d+) MB resident`)

// machineCPU is the CPU time every processor has spent busy since boot (/proc/stat: user, nice,
// system, irq, softirq, steal).
func machineCPU(tb testing.TB) time.Duration {
	tb.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		tb.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			tb.Fatalf("/proc/stat: %q: %v", line, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
