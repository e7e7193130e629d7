package probes

import "testing"

// TestSleeperArgv0: a lean sleeper keeps its own name, which multi-call binaries (busybox) need to
// know to be cat; only the probe binary runs under childArgv0.
func TestSleeperArgv0(t *testing.T) {
	tests := []struct{ exe, want string }{
		{"/usr/bin/cat", "cat"},
		{"/bin/cat", "cat"},
		{"/var/task/bootstrap", childArgv0},
		{"/tmp/probes.test", childArgv0},
	}
	for _, tt := range tests {
		if got := sleeperArgv0(tt.exe); got != tt.want {
			t.Errorf("sleeperArgv0(%q) = %q, want %q", tt.exe, got, tt.want)
		}
	}
}
