package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator/sandbox"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestKilledTargetLeavesNoEnvironment: a target SIGKILLed while one of its environments sits idle
// (frozen) leaves that environment's processes, cgroups and mounts behind only until the next
// target starts: that one thaws and removes the dead target's cgroups once their processes are
// gone, and nothing of the environment survives.
func TestKilledTargetLeavesNoEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two targets")
	}
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	endpoint, _, killA := startEmulatorEnv(t, env, "emulator", "--addr", "127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := runner.NewLambdaClient(ctx, endpoint, "us-east-1", runner.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zip, err := probefn.ZipExecutable(probeBinary)
	if err != nil {
		t.Fatal(err)
	}
	fn := probes.Function{Name: "leftover", Zip: zip, Timeout: 3 * time.Second, PerTenant: true}
	if _, err := c.CreateFunction(ctx, fn.CreateInput()); err != nil {
		t.Fatal(err)
	}
	// Any answer will do (the empty event is refused by the probe): the environment now exists.
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("leftover"), TenantId: aws.String("blue"),
		Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob(filepath.Join(tmp, "tenantcheck-local-*"))
	if len(states) != 1 {
		t.Fatalf("state dirs: %v, want one", states)
	}
	envPids, err := sandbox.ProcessesIn(filepath.Join(states[0], "code"))
	if err != nil || len(envPids) == 0 {
		t.Fatalf("the environment's processes: %v (err %v), want some", envPids, err)
	}
	started := map[int]string{} // pids wrap quickly here: a pid is the same process only with its start time
	for _, pid := range envPids {
		started[pid] = procField(pid, 22)
	}
	// The target made the environment's first process through its spawner helper (or itself,
	// where it has none), so it is that process's parent or grandparent. Other targets on the
	// host (other packages' tests run beside this one) make cgroup directories too; the
	// target's own are named for its pid.
	parent := 0
	for _, pid := range envPids {
		if pp, err := strconv.Atoi(procField(pid, 4)); err == nil && !slices.Contains(envPids, pp) {
			parent = pp
		}
	}
	if parent == 0 {
		t.Fatalf("no parent outside the environment among %v", envPids)
	}
	ancestors := []int{parent}
	if gp, err := strconv.Atoi(procField(parent, 4)); err == nil {
		ancestors = append(ancestors, gp)
	}
	target, helpers := "", map[int]string{}
	var deadParents []string
	for _, a := range ancestors {
		for _, p := range cgroupParents(t) {
			if strings.HasPrefix(filepath.Base(p), "tenantcheck-"+strconv.Itoa(a)+".") {
				deadParents = append(deadParents, p)
			}
		}
		if len(deadParents) > 0 || len(cgroupParents(t)) == 0 {
			target = strconv.Itoa(a)
			break
		}
		helpers[a] = procField(a, 22) // the spawner helper, which must die with the target
	}
	if target == "" {
		t.Fatalf("no cgroup directory of a target found for the environment's ancestors %v", ancestors)
	}

	killA()
	_, stopB, _ := startEmulatorEnv(t, env, "emulator", "--addr", "127.0.0.1:0")
	defer func() {
		if err := stopB(); err != nil {
			t.Error(err)
		}
	}()
	// A killed process dies when the kernel next runs it, and B sweeps what A left as it starts:
	// on a loaded machine both take a while, so each is waited for (bounded), not looked at once.
	for _, pid := range envPids {
		eventually(t, func() string {
			if st := procField(pid, 3); st != "" && st != "Z" && procField(pid, 22) == started[pid] {
				return fmt.Sprintf("process %d of the killed target's environment is still there (state %s)", pid, st)
			}
			return ""
		})
	}
	for pid, start := range helpers {
		eventually(t, func() string {
			if st := procField(pid, 3); st != "" && st != "Z" && procField(pid, 22) == start {
				return fmt.Sprintf("the killed target's helper process %d is still there (state %s)", pid, st)
			}
			return ""
		})
	}
	for _, p := range deadParents {
		eventually(t, func() string {
			if _, err := os.Stat(p); err == nil {
				return fmt.Sprintf("the killed target's cgroup %s is still there", p)
			}
			return ""
		})
	}
	if lines, err := sandbox.LeftoverMounts(states[0]); err != nil || len(lines) != 0 {
		t.Errorf("mounts of the killed target's state dir: %q (err %v)", lines, err)
	}
	if _, err := os.Stat(states[0]); err == nil {
		t.Errorf("the killed target's state dir %s is still there", states[0])
	}
}

// eventually fails the test with what check last said unless check says nothing ("") within a
// minute.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Error(msg)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupParents lists the targets' cgroup directories under this process's own cgroup (where
// the targets it starts make theirs) in every hierarchy the built-in target uses.
func cgroupParents(t *testing.T) []string {
	t.Helper()
	own, err := sandbox.CgroupPaths("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for _, ctl := range []string{"pids", "memory", "freezer"} {
		path, ok := own[ctl]
		if !ok {
			continue
		}
		m, err := filepath.Glob(filepath.Join("/sys/fs/cgroup", ctl, path, "tenantcheck-*"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

// procField is field n (as proc(5) numbers them, n >= 3) of /proc/PID/stat, "" when the process
// is gone.
func procField(pid, n int) string {
	f, err := sandbox.StatFields(pid)
	if err != nil {
		return ""
	}
	return f[n-3]
}
