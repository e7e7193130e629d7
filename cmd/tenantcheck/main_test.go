package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator/sandbox"
	"github.com/tenantcheck/tenantcheck/internal/golden"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
)

// TestMain makes this test binary a complete tenantcheck: the sandbox init step, the probe
// deployed into the built-in target (run zips os.Executable(), which is this binary), and, with
// TENANTCHECK_TEST_CLI=1, the CLI itself for tests that need a separate process.
func TestMain(m *testing.M) {
	sandbox.MaybeRunInit()
	if probes.IsLambdaRuntime() {
		probes.Main()
		return
	}
	if os.Getenv("TENANTCHECK_TEST_CLI") == "1" {
		ctx, stop := signalContext()
		code := Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	dir, err := os.MkdirTemp("", "tenantcheck-test-probe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir for the probe binary:", err)
		os.Exit(2)
	}
	// The CLI deploys a plain (not race-instrumented) build of itself as the probe: environments
	// of a race-built test binary are several times heavier, which only slows the suite down.
	// Stripped, it is 32 MB instead of 45: every run of the many below packs, unpacks and starts
	// it, and a short run's deploy takes 0.8 s instead of 1.6.
	probeBinary = filepath.Join(dir, "tenantcheck")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", probeBinary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the probe binary: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// probeBinary is the tenantcheck binary TestMain built for the runs to deploy.
var probeBinary string

// quickRun is a small but complete run: every schedule, few invocations, short function timeout.
func quickRun(extra ...string) []string {
	args := []string{"run", "--invocations", "120", "--function-timeout", "1s", "--seed", "42",
		"--max-environments", "24", "--probe-binary", probeBinary}
	return append(args, extra...)
}

func execute(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return executeWithin(t, 3*time.Minute, args...)
}

// runBinary runs the plain tenantcheck build as its own process: the long end-to-end tests (the
// fault matrix, replays, the emulator) exercise the real binary and its exit code, without paying
// the race detector's cost on the target's hot paths (the in-process tests keep that coverage).
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runBinaryEnv(t, nil, args...)
}

// runBinaryEnv is runBinary with the child's whole environment given explicitly (nil: this
// process's), for tests that point the CLI at stand-in services through environment variables
// and must not leak the developer's own configuration into it.
func runBinaryEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, probeBinary, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), out.String(), errb.String()
	default:
		t.Fatalf("run %s %v: %v\nstderr:\n%s", probeBinary, args, err, errb.String())
		return -1, "", ""
	}
}

func readReport(t testing.TB, path string) *reports.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	var r reports.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode report %s: %v", path, err)
	}
	return &r
}

func statuses(r *reports.Report) map[string]reports.CheckResult {
	m := make(map[string]reports.CheckResult, len(r.Checks))
	for _, c := range r.Checks {
		m[c.ID] = c
	}
	return m
}

func TestRunHealthyBuiltInTargetPasses(t *testing.T) {
	dir := t.TempDir()
	jsonPath, junitPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	code, out, errOut := execute(t, quickRun("--format", "json", "--out", jsonPath, "--format", "junit", "--out", junitPath)...)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	r := readReport(t, jsonPath)
	if r.SchemaVersion != reports.SchemaVersion || r.Seed != 42 || r.RunID == "" {
		t.Errorf("report header: schema %q seed %d run %q", r.SchemaVersion, r.Seed, r.RunID)
	}
	for id, c := range statuses(r) {
		if c.Area == "isolation" && c.Status != reports.Pass {
			t.Errorf("%s = %s (%s), want PASS", id, c.Status, c.Reason)
		}
	}
	if !strings.Contains(out, "TI-ENV-001") || !strings.Contains(out, "verdict PASS") {
		t.Errorf("table on stdout lacks checks or verdict:\n%s", out)
	}
	if !strings.Contains(out, "--seed=42") {
		t.Errorf("stdout lacks the replay command with the seed:\n%s", out)
	}
	if x, err := os.ReadFile(junitPath); err != nil || !bytes.Contains(x, []byte("<testsuites")) {
		t.Errorf("junit report missing or malformed: %v", err)
	}
}

func evidenceHas(c reports.CheckResult, key string) bool {
	for _, e := range c.Evidence {
		for k := range e.Fields {
			if strings.Contains(k, key) {
				return true
			}
		}
	}
	return false
}

func TestUsageErrorsExitTwo(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown fault", []string{"run", "--fault", "nope"}, "nope"},
		{"unknown fault lists the broker's too", []string{"run", "--endpoint-url", "http://127.0.0.1:1", "--fault", "nope"}, "long-credentials"},
		{"broker fault on the emulator", []string{"emulator", "--fault", "broad-credentials"}, "S3 broker"},
		{"unknown emulator fault", []string{"emulator", "--fault", "nope"}, "nope"},
		{"unknown check", []string{"run", "--checks", "TI-NOPE-001"}, "TI-NOPE-001"},
		{"unknown schedule", []string{"run", "--schedule", "zigzag"}, "zigzag"},
		{"too few tenants", []string{"run", "--tenants", "1"}, "--tenants"},
		{"format without out", []string{"run", "--format", "json", "--format", "junit", "--out", "x"}, "--out"},
		{"bad format", []string{"run", "--format", "yaml"}, "yaml"},
		{"fault with endpoint", []string{"run", "--endpoint-url", "http://127.0.0.1:1", "--fault", "shared-pool"}, "built-in"},
		{"bad endpoint", []string{"run", "--endpoint-url", "127.0.0.1:9300"}, "URL"},
		{"bad fault rate", []string{"run", "--fault", "recycle", "--fault-rate", "2"}, "--fault-rate"},
		{"negative retry wait", []string{"run", "--async-retry-wait", "-1s"}, "--async-retry-wait -1s: must not be negative"},
		{"two wrong keys", []string{"run", "--fault", "key-fold,key-numeric"}, "give at most one"},
		{"unknown flag", []string{"run", "--frobnicate"}, "frobnicate"},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := execute(t, tc.args...)
			if code != ExitIncomplete {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.want)
			}
		})
	}
}

func TestChecksListGolden(t *testing.T) {
	code, out, errOut := execute(t, "checks")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden.Assert(t, filepath.Join("testdata", "checks.golden"), out)
}

// TestEmulatorGivesSameVerdict runs `tenantcheck emulator` as its own process and points `run
// --endpoint-url` at it: the standalone target must judge exactly like the in-process one, and
// stop cleanly on SIGTERM.
func TestEmulatorGivesSameVerdict(t *testing.T) {
	for _, fault := range []string{"", "shared-pool"} {
		t.Run("fault="+fault, func(t *testing.T) {
			args := []string{"emulator", "--addr", "127.0.0.1:0"}
			if fault != "" {
				args = append(args, "--fault", fault)
			}
			endpoint, stop := startEmulator(t, args...)
			jsonPath := filepath.Join(t.TempDir(), "r.json")
			// Every area, so the standalone emulator is judged on all of it (its environment cap
			// is unknown to the runner, so TI-API-010 reports SKIP there).
			code, out, errOut := runBinary(t, "run", "--invocations", "120", "--function-timeout", "1s", "--seed", "42",
				"--probe-binary", probeBinary, "--endpoint-url", endpoint, "--format", "json", "--out", jsonPath)
			want := ExitOK
			if fault != "" {
				want = ExitFail
			}
			if code != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
			}
			if fault != "" && statuses(readReport(t, jsonPath))["TI-ENV-001"].Status != reports.Fail {
				t.Errorf("TI-ENV-001 did not FAIL against the faulty emulator")
			}
			if err := stop(); err != nil {
				t.Errorf("emulator did not stop cleanly: %v", err)
			}
		})
	}
}

var endpointLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

func startEmulator(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	endpoint, stop, _ := startEmulatorEnv(t, nil, args...)
	return endpoint, stop
}

// startEmulatorEnv starts `tenantcheck emulator` with extra environment variables and returns
// its endpoint, a stop (SIGTERM) and a kill (SIGKILL, waited for).
func startEmulatorEnv(t *testing.T, env []string, args ...string) (string, func() error, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "TENANTCHECK_TEST_CLI=1"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	done := make(chan error, 1)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := endpointLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		done <- cmd.Wait()
	}()
	var endpoint string
	select {
	case endpoint = <-found:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("emulator printed no endpoint within 30s")
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return context.DeadlineExceeded
		}
	}
	kill := func() {
		stopped = true
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(func() { _ = stop() })
	return endpoint, stop, kill
}

// TestKilledTargetLeavesNothing: a target killed with SIGKILL leaves its state directory (every
// tenant's code and logs) behind; the next target on the host removes it, never a live one's,
// and a target stopped cleanly removes its own.
func TestKilledTargetLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	stateDirs := func() []string {
		m, err := filepath.Glob(filepath.Join(tmp, "tenantcheck-local-*"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	_, _, killA := startEmulatorEnv(t, env, "emulator", "--addr", "127.0.0.1:0")
	dirsA := stateDirs()
	if len(dirsA) != 1 {
		t.Fatalf("state dirs with the first target up: %v, want one", dirsA)
	}
	if fi, err := os.Stat(dirsA[0]); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir %s: %v, mode %v, want 0700", dirsA[0], err, fi.Mode().Perm())
	}
	_, stopB, _ := startEmulatorEnv(t, env, "emulator", "--addr", "127.0.0.1:0")
	if got := stateDirs(); len(got) != 2 {
		t.Fatalf("a second target removed the live first one's state dir: %v", got)
	}
	killA()
	if got := stateDirs(); len(got) != 2 {
		t.Fatalf("state dirs after SIGKILL: %v, want the killed one still there", got)
	}
	_, stopC, _ := startEmulatorEnv(t, env, "emulator", "--addr", "127.0.0.1:0")
	got := stateDirs()
	if slices.Contains(got, dirsA[0]) || len(got) != 2 {
		t.Errorf("state dirs with a third target up: %v; the killed target's %s must be gone, the live ones kept", got, dirsA[0])
	}
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	if err := stopC(); err != nil {
		t.Fatal(err)
	}
	if got := stateDirs(); len(got) != 0 {
		t.Errorf("state dirs after clean stops: %v, want none", got)
	}
}
