package probes

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadPidsMax(t *testing.T) {
	tests := []struct {
		name   string
		cgroup string
		files  map[string]string // path under root -> content
		want   string
	}{
		{"v1 limited", "8:pids:/tc/env1\n4:memory:/x\n", map[string]string{"pids/tc/env1/pids.max": "1024\n"}, "1024"},
		{"v1 root has no limit file", "8:pids:/\n", map[string]string{"pids/cgroup.procs": ""}, "max"},
		{"v2 limited", "0::/tc/env1\n", map[string]string{"tc/env1/pids.max": "512\n"}, "512"},
		{"v2 unlimited", "0::/tc/env1\n", map[string]string{"tc/env1/pids.max": "max\n"}, "max"},
		{"no cgroup file system in view", "8:pids:/tc/env1\n", nil, ""},
		{"no pids controller", "4:memory:/x\n", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, root := cgroupFixture(t, tt.cgroup, tt.files)
			if got := readPidsMax(proc, root); got != tt.want {
				t.Errorf("readPidsMax = %q, want %q", got, tt.want)
			}
		})
	}
}

// cgroupFixture writes a fake /proc/self/cgroup (content cgroup) and cgroup file system (files,
// by path under the root) into a temporary directory and returns the two paths.
func cgroupFixture(t *testing.T, cgroup string, files map[string]string) (proc, root string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "sys")
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc = filepath.Join(dir, "cgroup")
	if err := os.WriteFile(proc, []byte(cgroup), 0o644); err != nil {
		t.Fatal(err)
	}
	return proc, root
}
