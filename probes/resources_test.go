package probes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadMemoryLimitMB(t *testing.T) {
	tests := []struct {
		name   string
		cgroup string
		files  map[string]string // path under root -> content
		want   int
	}{
		{"v1 limited", "4:memory:/tc/env1\n8:pids:/x\n", map[string]string{"memory/tc/env1/memory.limit_in_bytes": "671088640\n"}, 640},
		{"v1 unlimited", "4:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, -1},
		{"v2 limited", "0::/tc/env1\n", map[string]string{"tc/env1/memory.max": "134217728\n"}, 128},
		{"v2 unlimited", "0::/tc/env1\n", map[string]string{"tc/env1/memory.max": "max\n"}, -1},
		{"no cgroup file system in view", "4:memory:/tc/env1\n", nil, 0},
		{"no memory controller", "8:pids:/x\n", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, root := cgroupFixture(t, tt.cgroup, tt.files)
			if got := readMemoryLimitMB(proc, root); got != tt.want {
				t.Errorf("readMemoryLimitMB = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestLockStore: two environments that open one code file (two open file descriptions of one
// inode, as a shared bind mount gives them) see each other's lock canaries, never their own; a
// store on a copy of the file sees nothing.
func TestLockStore(t *testing.T) {
	shared, other := t.TempDir(), t.TempDir()
	for _, d := range []string{shared, other} {
		if err := os.WriteFile(filepath.Join(d, "bootstrap"), []byte("code"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := &lockStore{dir: shared}
	b := &lockStore{dir: shared}
	c := &lockStore{dir: other}
	for _, s := range []*lockStore{a, b, c} {
		t.Cleanup(func() {
			if s.f != nil {
				s.f.Close()
			}
		})
	}
	if res := a.plant(Canary{Nonce: "0badcafe" + strings.Repeat("0", 24), Place: PlaceLocks}, nil); !res.Planted {
		t.Fatalf("plant: %+v", res)
	}
	scan := func(s *lockStore) []string {
		sc := &scanState{}
		s.scan(sc)
		var tokens []string
		for _, f := range sc.found {
			tokens = append(tokens, f.Canary.Nonce)
		}
		return tokens
	}
	if got := scan(a); len(got) != 0 {
		t.Errorf("the planter found its own lock: %v", got)
	}
	if got := scan(b); len(got) != 1 || got[0] != "0badcafe" {
		t.Errorf("another open file of the same inode found %v, want [0badcafe]", got)
	}
	if got := scan(c); len(got) != 0 {
		t.Errorf("a copy of the file found %v, want nothing", got)
	}
	if res := (&lockStore{unset: "LAMBDA_TASK_ROOT is not set"}).plant(Canary{Nonce: "0badcafe00"}, nil); res.Planted || res.Error == "" {
		t.Errorf("plant without a task root: %+v", res)
	}
}

// TestIdleWatch: no window before the first invocation ends, none while another runs, and a
// window whose stillness never exceeds its length.
func TestIdleWatch(t *testing.T) {
	var w idleWatch
	defer w.close()
	if got := w.begin(); got != nil {
		t.Fatalf("window before any invocation ended: %+v", got)
	}
	w.end()
	got := w.begin()
	if got == nil {
		t.Fatal("no window after an invocation ended")
	}
	if got.StoppedMs > got.WindowMs {
		t.Errorf("stood still %d ms in a %d ms window", got.StoppedMs, got.WindowMs)
	}
	if inner := w.begin(); inner != nil {
		t.Errorf("a window while another invocation runs: %+v", inner)
	}
	w.end()
	w.end()
}

// TestTryMemoryStopsNearTheDeadline: an allocation still running near the invocation's deadline
// is killed and reported unfinished, so the attempt never turns into a timeout. The allocation
// asked for (8 GB) takes seconds; the deadline leaves it a few tens of milliseconds.
func TestTryMemoryStopsNearTheDeadline(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "8000")
	ctx, cancel := context.WithTimeout(context.Background(), hogDeadlineMargin+50*time.Millisecond)
	defer cancel()
	a := tryMemory(ctx, exe, &MemoryRequest{})
	if a == nil || !a.Unfinished || a.Allocated || a.Error != "" {
		t.Fatalf("attempt %+v, want unfinished", a)
	}
	if ctx.Err() != nil {
		t.Errorf("tryMemory returned after the deadline")
	}
}
