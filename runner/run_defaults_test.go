package runner

import (
	"context"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
)

// TestDefaultsSurviveTwoPasses pins the reason withDefaults must be idempotent: Run applies it
// and then Plan applies it again, so "none" (negative) must not come back as the default.
func TestDefaultsSurviveTwoPasses(t *testing.T) {
	tests := []struct {
		name         string
		in           Options
		wantNoErrors bool
		wantNoTimers bool
	}{
		{"unset gets defaults", Options{}, false, false},
		{"negative error rate stays none", Options{ErrorRate: -1}, true, false},
		{"negative max timeouts stays none", Options{MaxTimeouts: -1}, false, true},
		{"explicit values kept", Options{ErrorRate: 0.2, MaxTimeouts: 5}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			once := tt.in.withDefaults()
			twice := once.withDefaults()
			if once.ErrorRate != twice.ErrorRate || once.MaxTimeouts != twice.MaxTimeouts {
				t.Fatalf("second pass changed ErrorRate %v -> %v, MaxTimeouts %d -> %d",
					once.ErrorRate, twice.ErrorRate, once.MaxTimeouts, twice.MaxTimeouts)
			}
			if got := twice.ErrorRate <= 0; got != tt.wantNoErrors {
				t.Errorf("ErrorRate %v after two passes, want none=%v", twice.ErrorRate, tt.wantNoErrors)
			}
			if got := twice.MaxTimeouts <= 0; got != tt.wantNoTimers {
				t.Errorf("MaxTimeouts %d after two passes, want none=%v", twice.MaxTimeouts, tt.wantNoTimers)
			}
		})
	}
}

// TestRunNegativeErrorRateSprinklesNothing runs the whole path (Run, then Plan inside it)
// with enough invocations that the 5% default would certainly sprinkle some errors.
func TestRunNegativeErrorRateSprinklesNothing(t *testing.T) {
	tests := []struct {
		name      string
		schedules []string
		opts      Options
		forbidden map[probes.Action]bool
	}{
		{
			name:      "ErrorRate -1: no sprinkled error or crash",
			schedules: []string{SchedulePingPong, ScheduleBurst, ScheduleRandom},
			opts:      Options{ErrorRate: -1},
			forbidden: map[probes.Action]bool{probes.ActionError: true, probes.ActionCrash: true, probes.ActionTimeout: true},
		},
		{
			name:      "MaxTimeouts -1: errors schedule plans no timeout",
			schedules: []string{ScheduleErrors},
			opts:      Options{MaxTimeouts: -1},
			forbidden: map[probes.Action]bool{probes.ActionTimeout: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Function, opts.Schedules, opts.Invocations, opts.Concurrency, opts.Seed = "f", tt.schedules, 600, 2, 9
			obs, err := Run(context.Background(), newFakeTarget(), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(obs.Items) != opts.Invocations {
				t.Fatalf("%d observations, want %d", len(obs.Items), opts.Invocations)
			}
			for _, ob := range obs.Items {
				if tt.forbidden[ob.Action] {
					t.Fatalf("seq %d (%s): action %q planned despite ErrorRate %v, MaxTimeouts %d",
						ob.Seq, ob.Schedule, ob.Action, tt.opts.ErrorRate, tt.opts.MaxTimeouts)
				}
			}
		})
	}
}
