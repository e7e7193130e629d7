package runner

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
)

func testTenants(fresh int) []Tenant { return Tenants(rand.New(rand.NewPCG(7, 7)), fresh) }

func TestPlanCounts(t *testing.T) {
	tests := []struct {
		name        string
		schedules   []string
		invocations int
		concurrency int
		want        map[string]int
	}{
		{"all", nil, 200, 4, map[string]int{SchedulePingPong: 60, ScheduleBurst: 60, ScheduleRandom: 40, ScheduleAsync: 20, ScheduleErrors: 20, ScheduleResources: resourcesSteps}},
		{"remainders", nil, 11, 3, map[string]int{SchedulePingPong: 4, ScheduleBurst: 3, ScheduleRandom: 2, ScheduleAsync: 1, ScheduleErrors: 1, ScheduleResources: resourcesSteps}},
		{"one", []string{ScheduleBurst}, 13, 5, map[string]int{ScheduleBurst: 13}},
		{"two", []string{ScheduleAsync, ScheduleErrors}, 10, 1, map[string]int{ScheduleAsync: 5, ScheduleErrors: 5}},
		{"fixed only", []string{ScheduleResources}, 10, 1, map[string]int{ScheduleResources: resourcesSteps}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Function: "f", Schedules: tt.schedules, Invocations: tt.invocations, Concurrency: tt.concurrency, Seed: 42}
			phases, err := Plan(opts, testTenants(4))
			if err != nil {
				t.Fatal(err)
			}
			total, timeouts := 0, 0
			for _, ph := range phases {
				if got := len(ph.Steps); got != tt.want[ph.Schedule] {
					t.Errorf("%s: %d steps, want %d", ph.Schedule, got, tt.want[ph.Schedule])
				}
				if ph.Schedule != ScheduleResources { // fixed steps, on top of the total
					total += len(ph.Steps)
				}
				if ph.Concurrency < 1 || ph.Concurrency > tt.concurrency {
					t.Errorf("%s: concurrency %d outside 1..%d", ph.Schedule, ph.Concurrency, tt.concurrency)
				}
				perBatch := map[int]int{}
				async := 0
				for _, s := range ph.Steps {
					perBatch[s.Batch]++
					if s.Schedule != ph.Schedule {
						t.Errorf("step labelled %s in phase %s", s.Schedule, ph.Schedule)
					}
					if s.Async {
						async++
						if (ph.Schedule != ScheduleAsync || s.Action != probes.ActionNone) && (ph.Schedule != ScheduleErrors || s.Action != probes.ActionError) {
							t.Errorf("%s: unexpected async step %+v", ph.Schedule, s)
						}
					}
					if s.Action == probes.ActionTimeout {
						timeouts++
						if ph.Schedule != ScheduleErrors {
							t.Errorf("timeout outside errors schedule: %+v", s)
						}
					}
				}
				if ph.Schedule == ScheduleAsync && async != (len(ph.Steps)+1)/2 {
					t.Errorf("async: %d of %d steps async", async, len(ph.Steps))
				}
				if ph.Schedule == ScheduleBurst {
					for b, n := range perBatch {
						if n > ph.Concurrency {
							t.Errorf("burst batch %d has %d steps, concurrency %d", b, n, ph.Concurrency)
						}
					}
				}
			}
			if want := tt.invocations; total != want && !(len(tt.schedules) == 1 && tt.schedules[0] == ScheduleResources) {
				t.Errorf("total %d, want %d", total, tt.invocations)
			}
			if timeouts > 2 {
				t.Errorf("%d timeouts, want at most 2", timeouts)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ten  []Tenant
	}{
		{"unknown schedule", Options{Schedules: []string{"nope"}}, testTenants(2)},
		{"duplicate schedule", Options{Schedules: []string{ScheduleBurst, ScheduleBurst}}, testTenants(2)},
		{"one tenant", Options{}, []Tenant{{ID: "a"}}},
	}
	for _, tt := range tests {
		if _, err := Plan(tt.opts, tt.ten); err == nil {
			t.Errorf("%s: Plan succeeded", tt.name)
		}
	}
}

func planJSON(t *testing.T, opts Options) []byte {
	t.Helper()
	phases, err := Plan(opts, testTenants(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(phases)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlanDeterministic(t *testing.T) {
	base := Options{Invocations: 300, Concurrency: 4, Seed: 99}
	a, b := planJSON(t, base), planJSON(t, base)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed planned different steps")
	}
	other := base
	other.Seed = 100
	if bytes.Equal(a, planJSON(t, other)) {
		t.Fatal("different seeds planned identical steps")
	}
	// A schedule's steps do not depend on which other schedules are selected.
	only := base
	only.Schedules = []string{ScheduleRandom}
	only.Invocations = 60 // what random gets out of 300 in the full plan
	full, _ := Plan(base, testTenants(3))
	alone, _ := Plan(only, testTenants(3))
	fa, _ := json.Marshal(full[2].Steps)
	fb, _ := json.Marshal(alone[0].Steps)
	if full[2].Schedule != ScheduleRandom || !bytes.Equal(fa, fb) {
		t.Fatal("random schedule changed when other schedules were dropped")
	}
}

// TestPingPongTwins checks the property the schedule exists for: each adversarial twin is
// invoked right after its partner, alternating, at concurrency 1.
func TestPingPongTwins(t *testing.T) {
	tenants := testTenants(2)
	opts := Options{Schedules: []string{SchedulePingPong}, Invocations: 200, ErrorRate: -1, Seed: 5}
	phases, err := Plan(opts, tenants)
	if err != nil {
		t.Fatal(err)
	}
	ph := phases[0]
	if ph.Concurrency != 1 {
		t.Fatalf("concurrency %d, want 1", ph.Concurrency)
	}
	followed := map[string]bool{}
	for i := 1; i < len(ph.Steps); i++ {
		prev, cur := tenants[ph.Steps[i-1].Tenant], tenants[ph.Steps[i].Tenant]
		if ph.Steps[i].Batch == ph.Steps[i-1].Batch {
			t.Fatalf("steps %d and %d share a batch", i-1, i)
		}
		if prev.Pair == cur.Pair && prev.ID != cur.ID {
			followed[cur.Pair] = true
		}
		if prev.ID == cur.ID {
			t.Errorf("step %d: tenant %q invoked twice in a row", i, cur.ID)
		}
	}
	for _, p := range []string{PairCase, PairLong, PairSeparators, PairSplitBefore, PairSplitAfter, PairNumeric, PairPath, PairARN} {
		if !followed[p] {
			t.Errorf("pair %s: no twin followed its partner", p)
		}
	}
}

func TestSprinkledErrors(t *testing.T) {
	opts := Options{Invocations: 2000, Concurrency: 4, Seed: 1}
	phases, err := Plan(opts, testTenants(4))
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range phases {
		n := 0
		for _, s := range ph.Steps {
			if s.Action != probes.ActionNone {
				n++
			}
		}
		if ph.Schedule != ScheduleErrors && ph.Schedule != ScheduleResources && (n == 0 || n > len(ph.Steps)/5) {
			t.Errorf("%s: %d of %d steps sprinkled with errors", ph.Schedule, n, len(ph.Steps))
		}
	}
	opts.ErrorRate = -1
	opts.Schedules = []string{SchedulePingPong, ScheduleBurst, ScheduleRandom, ScheduleAsync}
	phases, _ = Plan(opts, testTenants(4))
	for _, ph := range phases {
		for _, s := range ph.Steps {
			if s.Action != probes.ActionNone {
				t.Fatalf("%s: error action with ErrorRate<0: %+v", ph.Schedule, s)
			}
		}
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 1)) }
