package probes

import (
	"os"
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
// (fork+exec, waited for) and kill the old one.
func BenchmarkSleeperReplace(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	s := &sleeper{}
	b.Cleanup(func() {
		if err := s.close(); err != nil {
			b.Error(err)
		}
	})
	env := []string{childEnv + "=1", "GOMAXPROCS=1", "GOGC=off"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.replace(exe, env); err != nil {
			b.Fatal(err)
		}
	}
}
