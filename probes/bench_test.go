package probes

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHandle measures one invocation with about 110 canaries present (10 earlier
// invocations' worth in each place). Files planted by the measured invocations are removed
// outside the timer so every iteration scans the same amount.
func BenchmarkHandle(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts func(r roots) []Option
	}{
		{"no-child/fake-proc", func(r roots) []Option { return nil }},
		{"child-every/fake-proc", func(r roots) []Option {
			return []Option{WithChildExecutable(exe), WithSleeperInterval(0)}
		}},
		{"child-20ms/fake-proc", func(r roots) []Option { return []Option{WithChildExecutable(exe)} }},
		{"child-20ms/real-proc", func(r roots) []Option { return []Option{WithChildExecutable(exe), WithProcDir("/proc")} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRoots(b)
			p := newTestProbe(b, r, append([]Option{WithChildExecutable("")}, bc.opts(r)...)...)
			ctx := lambdaCtx(b, "tenant-a", "req", time.Hour)
			ev := Event{Schema: SchemaVersion, RunID: randomHex(), Tenant: "tenant-a"}
			for ev.Seq = 1; ev.Seq <= 10; ev.Seq++ {
				if _, err := p.Handle(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond) // background canaries recorded
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ev.Seq++
				rep, err := p.Handle(ctx, ev)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, pr := range rep.Planted {
					switch pr.Place {
					case PlaceTmp, PlaceDevShm, PlaceVarTmp, PlaceHome, PlaceCodeDir:
						_ = os.Remove(pr.Where)
					}
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSleeperReplace is the part of an invocation PlaceProcess costs: start a new sleeper
// (fork+exec, waited for) and kill the old one. child-cpu-ms/op is the CPU the children spent
// (reaped ones, from getrusage), which the invocation does not wait for but a busy host pays:
// the probe binary (a Go runtime start and every package's init) against the lean sleeper.
func BenchmarkSleeperReplace(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, exe string }{
		{name: "probe-binary", exe: exe},
		{name: "lean", exe: leanSleeper("")},
	} {
		b.Run(tt.name, func(b *testing.B) {
			if tt.exe == "" {
				b.Skip("no lean sleeper on this host")
			}
			s := &sleeper{}
			env := []string{childEnv + "=1", "GOMAXPROCS=1", "GOGC=off"}
			before := childCPU(b)
			b.ReportAllocs()
			for b.Loop() {
				pid, err := s.replace(tt.exe, env)
				if err != nil {
					b.Fatal(err)
				}
				// A child replaced before it finished starting would hide its start-up cost; in
				// a run the interval lets every child reach its read.
				waitBlockedReading(b, pid)
			}
			if err := s.close(); err != nil {
				b.Error(err)
			}
			waitReaped(b, s)
			b.ReportMetric(float64((childCPU(b)-before).Microseconds())/1000/float64(b.N), "child-cpu-ms/op")
		})
	}
}

// childCPU is the user and system time of this process's reaped children.
func childCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitBlockedReading waits until one of pid's threads sits in read(0, ...): the child has started
// and is sleeping.
func waitBlockedReading(b *testing.B, pid int) {
	prefix := strconv.Itoa(syscall.SYS_READ) + " 0x0 "
	for i := 0; ; i++ {
		tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "syscall"))
		for _, t := range tasks {
			if data, err := os.ReadFile(t); err == nil && strings.HasPrefix(string(data), prefix) {
				return
			}
		}
		if i == 100000 {
			b.Fatalf("sleeper %d never blocked reading its standard input", pid)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// waitReaped waits until every replaced child has been reaped, so childCPU counts them all.
func waitReaped(b *testing.B, s *sleeper) {
	for i := 0; len(s.discarded()) > 0; i++ {
		if i == 10000 {
			b.Fatal("replaced sleepers not reaped")
		}
		time.Sleep(time.Millisecond)
	}
}
