package main

import (
	"path/filepath"
	"testing"

	"github.com/tenantcheck/tenantcheck/reports"
)

// TestAsyncChannelLogs runs the async checks with reports coming back through CloudWatch Logs,
// the channel `run --aws` uses, against the built-in target's Logs API: healthy they PASS, and
// with the async-shared fault the same channel carries the evidence that makes them FAIL.
func TestAsyncChannelLogs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		fault []string
		want  reports.Status
	}{
		{"healthy", nil, reports.Pass},
		{"async-shared", []string{"--fault", "async-shared"}, reports.Fail},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "r.json")
			args := quickRun(append([]string{"--async-channel", "logs", "--schedule", "async", "--checks", "TI-API-008,TI-ENV-001",
				"--format", "json", "--out", path}, tt.fault...)...)
			code, out, errOut := runBinary(t, args...)
			if code != ExitOK && code != ExitFail {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			st := statuses(readReport(t, path))
			if got := st["TI-API-008"]; got.Status != tt.want {
				t.Errorf("TI-API-008 = %s (%s), want %s", got.Status, got.Reason, tt.want)
			}
			// The async schedule alone feeds TI-ENV-001 here: its verdict comes from reports that
			// arrived through logs.
			if got := st["TI-ENV-001"]; got.Status != tt.want {
				t.Errorf("TI-ENV-001 = %s (%s), want %s", got.Status, got.Reason, tt.want)
			}
		})
	}
}
