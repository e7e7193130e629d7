package reports

import (
	"math"
	"testing"
)

func res(id string, level Level, st Status) CheckResult {
	return CheckResult{ID: id, Level: level, Status: st}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name     string
		results  []CheckResult
		exit     int
		verdict  Status
		inReason string
	}{
		{"all pass", []CheckResult{res("A", Must, Pass), res("B", Must, Pass)}, 0, Pass, "no MUST check failed"},
		{"skip and warn allowed", []CheckResult{res("A", Must, Pass), res("B", Must, Skip), res("C", Should, Warn)}, 0, Pass, "1 warned, 1 skipped"},
		{"must fail", []CheckResult{res("A", Must, Pass), res("B", Must, Fail)}, 1, Fail, "MUST checks failed: B"},
		{"fail beats error", []CheckResult{res("A", Must, Error), res("B", Must, Fail), res("C", Must, Inconclusive)}, 1, Fail, "B"},
		{"must error", []CheckResult{res("A", Must, Pass), res("B", Must, Error)}, 2, Error, "could not be judged: B"},
		{"error beats inconclusive", []CheckResult{res("B", Must, Inconclusive), res("A", Must, Error)}, 2, Error, "inconclusive: B"},
		{"must inconclusive", []CheckResult{res("A", Must, Pass), res("B", Must, Inconclusive)}, 2, Inconclusive, "inconclusive: B"},
		{"all skipped", []CheckResult{res("A", Must, Skip), res("B", Should, Skip)}, 2, Inconclusive, "every selected check was skipped"},
		{"nothing selected", nil, 2, Inconclusive, "every selected check was skipped"},
		{"should fail does not fail the run", []CheckResult{res("A", Must, Pass), res("B", Should, Fail)}, 0, Pass, ""},
		{"should error does not make it unsure", []CheckResult{res("A", Must, Pass), res("B", Should, Error), res("C", Should, Inconclusive)}, 0, Pass, ""},
		{"only should warn", []CheckResult{res("A", Should, Warn)}, 0, Pass, ""},
		{"ids sorted in reason", []CheckResult{res("Z", Must, Fail), res("A", Must, Fail)}, 1, Fail, "A, Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.results)
			if s.ExitCode != tt.exit || s.Verdict != tt.verdict {
				t.Errorf("exit %d verdict %s, want %d %s (%s)", s.ExitCode, s.Verdict, tt.exit, tt.verdict, s.Reason)
			}
			if tt.inReason != "" && !contains(s.Reason, tt.inReason) {
				t.Errorf("reason %q does not contain %q", s.Reason, tt.inReason)
			}
			if s.Total != len(tt.results) {
				t.Errorf("total %d, want %d", s.Total, len(tt.results))
			}
			sum := 0
			for _, st := range Statuses() {
				n, ok := s.Counts[st]
				if !ok {
					t.Errorf("count for %s missing: the JSON schema promises all six", st)
				}
				sum += n
			}
			if sum != len(tt.results) {
				t.Errorf("counts add up to %d, want %d", sum, len(tt.results))
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestDetectProbability(t *testing.T) {
	tests := []struct {
		n    int
		rate float64
		want float64
	}{
		{0, 0.01, 0},
		{-5, 0.01, 0},
		{100, 0, 0},
		{100, math.NaN(), 0},
		{1, 1, 1},
		{10, 2, 1},
		{1, 0.01, 0.01},
		{100, 0.01, 1 - math.Pow(0.99, 100)},
		{600, 0.001, 1 - math.Pow(0.999, 600)},
		// The naive 1-math.Pow(1-rate, n) is off by 2.6e-11 here: (1-1e-9) is already rounded.
		{1_000_000, 1e-9, 0.00099950016712450},
	}
	for _, tt := range tests {
		got := DetectProbability(tt.n, tt.rate)
		if math.Abs(got-tt.want) > 1e-14*math.Max(tt.want, 1e-3) {
			t.Errorf("DetectProbability(%d, %v) = %v, want %v", tt.n, tt.rate, got, tt.want)
		}
	}
	// 459 opportunities are what it takes to catch a 1% fault 99% of the time.
	if p := DetectProbability(459, 0.01); p < 0.99 || DetectProbability(458, 0.01) >= 0.99 {
		t.Errorf("459 opportunities give %v", p)
	}
}
