package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/reports"
)

// TestRunStoppedStillReports stops a run half-way, the two ways a run is stopped from outside:
// the standalone target it tests is SIGKILLed, and the user presses Ctrl-C (SIGINT). Either way
// the run writes the report it was asked for, PASSes nothing, says why, and exits 2. The stop
// comes once the run's record holds a few dozen invocations, so there is something to judge.
func TestRunStoppedStillReports(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string // in every INCONCLUSIVE or ERROR reason
		stop   func(t *testing.T, run *exec.Cmd, killTarget func())
		target bool // run against a standalone emulator
	}{
		{name: "target killed", reason: "stopped answering", target: true,
			stop: func(_ *testing.T, _ *exec.Cmd, killTarget func()) { killTarget() }},
		{name: "ctrl-c", reason: "interrupt",
			stop: func(t *testing.T, run *exec.Cmd, _ func()) {
				if err := run.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatalf("SIGINT: %v", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			obsPath, jsonPath := filepath.Join(dir, "obs.jsonl"), filepath.Join(dir, "r.json")
			args := quickRun("--invocations", "2000", "--checks", "isolation,contract", "--observations", obsPath, "--format", "json", "--out", jsonPath)
			var killTarget func()
			if tc.target {
				var endpoint string
				endpoint, _, killTarget = startEmulatorEnv(t, nil, "emulator", "--addr", "127.0.0.1:0")
				args = append(withoutFlag(args, "--max-environments"), "--endpoint-url", endpoint)
			}
			var stderr bytes.Buffer
			run := exec.Command(probeBinary, args...)
			run.Stderr = &stderr
			if err := run.Start(); err != nil {
				t.Fatalf("start run: %v", err)
			}
			var err error
			exited := make(chan struct{})
			go func() {
				err = run.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				_ = run.Process.Kill()
				<-exited
			})
			if !waitForLines(obsPath, `"kind":"invocation"`, 40, exited) {
				_ = run.Process.Kill()
				<-exited
				t.Fatalf("the run ended (%v) before it recorded 40 invocations; stderr:\n%s", err, stderr.String())
			}
			tc.stop(t, run, killTarget)
			<-exited
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != ExitIncomplete {
				t.Fatalf("run ended with %v, want exit 2; stderr:\n%s", err, stderr.String())
			}
			r := readReport(t, jsonPath)
			for id, c := range statuses(r) {
				switch c.Status {
				case reports.Pass:
					t.Errorf("%s PASSed a run that was stopped half-way: %s", id, c.Reason)
				case reports.Inconclusive, reports.Error:
					if !strings.Contains(c.Reason, tc.reason) {
						t.Errorf("%s %s: reason %q does not say the run was stopped (%q)", id, c.Status, c.Reason, tc.reason)
					}
				}
			}
			if code, _, errOut := execute(t, "judge", obsPath); code != ExitIncomplete {
				t.Errorf("judge of the stopped run: exit %d, want 2; stderr: %s", code, errOut)
			}
		})
	}
}

// waitForLines waits until the file at path holds at least n lines containing want, or the
// process behind exited ends first (false). Bounded, generously for a busy machine: 2 min of
// 10 ms polls (a healthy run gets there in seconds).
func waitForLines(path, want string, n int, exited <-chan struct{}) bool {
	for range 12000 {
		select {
		case <-exited:
			return false
		default:
		}
		if b, err := os.ReadFile(path); err == nil && strings.Count(string(b), want) >= n {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// withoutFlag drops a flag and its value from args.
func withoutFlag(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
