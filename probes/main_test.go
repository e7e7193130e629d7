package probes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIsLambdaRuntime(t *testing.T) {
	tests := []struct {
		name             string
		args0            string
		runtimeAPI, env  string
		forced, childVar string
		want             bool
	}{
		{name: "bootstrap under a runtime", args0: "/var/task/bootstrap", runtimeAPI: "127.0.0.1:9001", want: true},
		{name: "cli inside a lambda", args0: "/usr/local/bin/tenantcheck", runtimeAPI: "127.0.0.1:9001", want: false},
		{name: "bootstrap without runtime", args0: "./bootstrap", want: false},
		{name: "forced", args0: "/app/tenantcheck", runtimeAPI: "127.0.0.1:9001", forced: "1", want: true},
		{name: "sleeper child", args0: childArgv0, childVar: "1", want: true},
		{name: "plain cli", args0: "tenantcheck", want: false},
	}
	saved := os.Args
	t.Cleanup(func() { os.Args = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_LAMBDA_RUNTIME_API", tt.runtimeAPI)
			t.Setenv(forceEnv, tt.forced)
			t.Setenv(childEnv, tt.childVar)
			os.Args = []string{tt.args0}
			if got := IsLambdaRuntime(); got != tt.want {
				t.Errorf("IsLambdaRuntime() = %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeRuntime is the part of the Lambda Runtime API that aws-lambda-go uses.
type fakeRuntime struct {
	invokes chan fakeInvoke
	results chan fakeResult
}

type fakeInvoke struct {
	id, tenant string
	event      Event
}

type fakeResult struct {
	id, kind string // kind is "response" or "error"
	body     []byte
}

func (f *fakeRuntime) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-f.invokes:
			body, err := json.Marshal(inv.event)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(10*time.Second).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:probe")
			h.Set("Lambda-Runtime-Aws-Tenant-Id", inv.tenant)
			_, _ = w.Write(body)
		case <-r.Context().Done():
		}
	})
	for _, kind := range []string{"response", "error"} {
		mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/"+kind, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			f.results <- fakeResult{id: r.PathValue("id"), kind: kind, body: body}
		})
	}
	return mux
}

func (f *fakeRuntime) invoke(t *testing.T, inv fakeInvoke) fakeResult {
	t.Helper()
	select {
	case f.invokes <- inv:
	case <-time.After(30 * time.Second):
		t.Fatalf("probe never asked for invocation %s", inv.id)
	}
	select {
	case res := <-f.results:
		if res.id != inv.id {
			t.Fatalf("result for %s, want %s", res.id, inv.id)
		}
		return res
	case <-time.After(30 * time.Second):
		t.Fatalf("no result for invocation %s", inv.id)
	}
	return fakeResult{}
}

// syncBuffer collects the probe's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMainOverRuntimeAPI builds the probe as `bootstrap`, runs it against a fake Runtime API and
// checks cold then warm in one environment, that another tenant's invocation finds the first
// one's canary in every place, the error action, and that the crash action takes the sleeper
// child with it.
func TestMainOverRuntimeAPI(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not on PATH, cannot build the probe: %v", err)
	}
	binDir := t.TempDir()
	bin := filepath.Join(binDir, "bootstrap")
	build := exec.Command(goTool, "build", "-o", bin, "./testdata/probe")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}

	fr := &fakeRuntime{invokes: make(chan fakeInvoke), results: make(chan fakeResult, 1)}
	srv := httptest.NewServer(fr.handler())
	home := t.TempDir()
	// Private stand-ins for /tmp, /dev/shm and /var/tmp: tests of other packages plant and
	// remove canaries in the host's at the same time, and a scan reads at most maxScanPerPlace.
	tmpDir, shmDir, varTmpDir := t.TempDir(), t.TempDir(), t.TempDir()
	var logs syncBuffer
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
		"AWS_LAMBDA_LOG_STREAM_NAME=2025/11/25/[$LATEST]e2e",
		"LAMBDA_TASK_ROOT=" + binDir,
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"TESTPROBE_TMP_DIR=" + tmpDir,
		"TESTPROBE_PRIVATE_KEYS=1",
		"TESTPROBE_DEV_SHM_DIR=" + shmDir,
		"TESTPROBE_VAR_TMP_DIR=" + varTmpDir,
	}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	runID := randomHex()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by pid; harmless if it already exited
		<-exited
		srv.Close()
	})

	decode := func(res fakeResult) *Report {
		t.Helper()
		if res.kind != "response" {
			t.Fatalf("invocation %s: %s %s\nlogs:\n%s", res.id, res.kind, res.body, logs.String())
		}
		var rep Report
		if err := json.Unmarshal(res.body, &rep); err != nil {
			t.Fatalf("decode report: %v: %s", err, res.body)
		}
		return &rep
	}
	// The probe scans the host's /proc, where tests of other packages running in parallel keep
	// hundreds of canaries, and a report keeps at most maxFoundPerPlace per place, foreign and
	// newest first. So every invocation after the first looks as tenant-b, which makes seq 1's
	// canaries foreign, and this run's seqs start at seqBase, which makes them the newest.
	const seqBase = int64(1) << 40
	ev := func(seq int64, tenant string, action Action) Event {
		return Event{Schema: SchemaVersion, RunID: runID, Tenant: tenant, Seq: seqBase + seq, Action: action}
	}
	invoke := func(seq int64, tenant string, action Action) fakeResult {
		t.Helper()
		return fr.invoke(t, fakeInvoke{id: fmt.Sprintf("req-%d", seq), tenant: tenant, event: ev(seq, tenant, action)})
	}
	// fromFirst returns rep's canaries of place planted by the first invocation, after checking
	// that every canary of this run rep found there traces back to it.
	fromFirst := func(rep *Report, place Place, first *Report) []Found {
		t.Helper()
		var out []Found
		for _, f := range foundFor(rep, runID, place) {
			if f.Canary.Seq != seqBase+1 {
				continue // planted by a later invocation (background and process places)
			}
			if f.Canary.EnvID != first.EnvID || f.Canary.RequestID != "req-1" || f.Canary.Tenant != "tenant-a" ||
				f.Canary.ContextTenant != "tenant-a" {
				t.Errorf("%s: canary %+v does not trace to the first invocation", place, f.Canary)
			}
			out = append(out, f)
		}
		return out
	}

	first := decode(invoke(1, "tenant-a", ActionNone))
	if !first.Cold || first.Invocations != 1 || first.RequestID != "req-1" || first.ContextTenant != "tenant-a" ||
		first.LogStream != "2025/11/25/[$LATEST]e2e" || first.PID != cmd.Process.Pid {
		t.Errorf("first report identity: %+v", first)
	}
	for place, dir := range map[Place]string{PlaceTmp: tmpDir, PlaceDevShm: shmDir, PlaceVarTmp: varTmpDir} {
		for _, pr := range plantedIn(first, place) {
			if !pr.Planted || filepath.Dir(pr.Where) != dir {
				t.Errorf("%s: planted %+v, want a canary in the test's private %s", place, pr, dir)
			}
		}
	}
	for _, place := range allPlaces {
		if got := foundFor(first, runID, place); len(got) != 0 {
			t.Errorf("cold start found %s canaries of this run: %+v", place, got)
		}
	}

	second := decode(invoke(2, "tenant-b", ActionNone))
	if second.Cold || second.Invocations != 2 || second.EnvID != first.EnvID || second.PID != first.PID {
		t.Errorf("second report: Cold=%v Invocations=%d EnvID=%s PID=%d; want warm 2 %s %d",
			second.Cold, second.Invocations, second.EnvID, second.PID, first.EnvID, first.PID)
	}
	for _, place := range allPlaces {
		got := fromFirst(second, place, first)
		if place == PlaceBackground && len(got) == 0 {
			continue // the goroutine may not have run yet on a loaded host: waited for below
		}
		if len(got) != len(plantedIn(first, place)) {
			t.Errorf("%s: second invocation found %d canaries of seq 1, planted %d: %+v", place, len(got), len(plantedIn(first, place)), got)
		}
	}
	// The background canary is recorded by a goroutine after its delay, whenever the probe's
	// process next gets the CPU: keep invoking (bounded) until it shows instead of pausing a
	// fixed time that a loaded host can exceed.
	seq := int64(3)
	for deadline := time.Now().Add(30 * time.Second); len(fromFirst(second, PlaceBackground, first)) == 0; seq++ {
		if time.Now().After(deadline) {
			t.Fatalf("background canary of seq 1 never appeared\nlogs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
		second = decode(invoke(seq, "tenant-b", ActionNone))
	}
	if got := fromFirst(second, PlaceBackground, first); len(got) != len(plantedIn(first, PlaceBackground)) {
		t.Errorf("background: found %d canaries of seq 1, planted %d: %+v", len(got), len(plantedIn(first, PlaceBackground)), got)
	}

	res := invoke(seq, "tenant-b", ActionError)
	seq++
	var fnErr struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(res.body, &fnErr); err != nil || res.kind != "error" || fnErr.ErrorType != "RequestedError" {
		t.Errorf("error action: %s %s (decode err %v), want error of type RequestedError", res.kind, res.body, err)
	}

	// Each plant replaces the sleeper and kills the one before, which exits when the kernel next
	// runs it: wait (bounded) until exactly one is left rather than sampling once.
	for deadline := time.Now().Add(30 * time.Second); len(sleepersOfRun(t, runID)) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("want exactly one sleeper carrying this run's canaries, have %v", sleepersOfRun(t, runID))
		}
	}
	select {
	case fr.invokes <- fakeInvoke{id: fmt.Sprintf("req-%d", seq), tenant: "tenant-b", event: ev(seq, "tenant-b", ActionCrash)}:
	case <-time.After(30 * time.Second):
		t.Fatal("probe never asked for the crash invocation")
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("crash action: exit %v, want status 3", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("crash action did not end the process")
	}
	for deadline := time.Now().Add(30 * time.Second); len(sleepersOfRun(t, runID)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sleepers %v outlived the crashed probe", sleepersOfRun(t, runID))
		}
	}
}

// sleepersOfRun lists live sleeper processes whose environment carries canaries of runID (the
// crash invocation starts one the test never hears about).
func sleepersOfRun(t *testing.T, runID string) []string {
	t.Helper()
	var pids []string
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.HasPrefix(cmdline, []byte(childArgv0+"\x00")) && !bytes.HasPrefix(cmdline, []byte("cat\x00")) {
			continue
		}
		environ, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err == nil && bytes.Contains(environ, []byte(runID)) {
			pids = append(pids, filepath.Base(dir))
		}
	}
	return pids
}
