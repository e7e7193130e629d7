package probes

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var hex128 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestColdStartFindsNothingAndPlantsEverywhere(t *testing.T) {
	r := newRoots(t)
	p := newTestProbe(t, r)
	ev := Event{RunID: randomHex(), Tenant: "tenant-a", Seq: 1}
	rep := mustHandle(t, p, ev, "req-1")

	if len(rep.Found) != 0 {
		t.Errorf("cold start found %d canaries, want none: %+v", len(rep.Found), rep.Found)
	}
	if !rep.Cold || rep.Invocations != 1 {
		t.Errorf("Cold=%v Invocations=%d, want true 1", rep.Cold, rep.Invocations)
	}
	if !hex128.MatchString(rep.EnvID) || rep.PID != os.Getpid() || rep.StartedAt.IsZero() {
		t.Errorf("identity EnvID=%q PID=%d StartedAt=%v", rep.EnvID, rep.PID, rep.StartedAt)
	}
	type echo struct {
		Schema                                             int
		LogStream, RequestID, ContextTenant, RunID, Tenant string
		Seq                                                int64
	}
	want := echo{SchemaVersion, "2025/11/25/[$LATEST]test", "req-1", "tenant-a", ev.RunID, "tenant-a", 1}
	got := echo{rep.Schema, rep.LogStream, rep.RequestID, rep.ContextTenant, rep.RunID, rep.Tenant, rep.Seq}
	if got != want {
		t.Errorf("echo = %+v, want %+v", got, want)
	}
	for _, place := range allPlaces {
		prs := plantedIn(rep, place)
		if len(prs) == 0 {
			t.Errorf("%s: no PlantResult", place)
		}
		for _, pr := range prs {
			if !pr.Planted || pr.Error != "" || !hex128.MatchString(pr.Nonce) || pr.Where == "" {
				t.Errorf("%s: %+v, want planted with nonce and where", place, pr)
			}
		}
	}
	if !rep.CodeDirWritable {
		t.Error("CodeDirWritable = false for a writable task root")
	}

	warm := mustHandle(t, p, Event{RunID: ev.RunID, Tenant: "tenant-a", Seq: 2}, "req-2")
	if warm.Cold || warm.Invocations != 2 || warm.EnvID != rep.EnvID || !warm.StartedAt.Equal(rep.StartedAt) {
		t.Errorf("warm: Cold=%v Invocations=%d EnvID=%s StartedAt=%v, want false 2 %s %v",
			warm.Cold, warm.Invocations, warm.EnvID, warm.StartedAt, rep.EnvID, rep.StartedAt)
	}
}

// TestCanaryTraceableInEveryPlace plants as tenant A at seq 1 and looks as tenant B at seq 2:
// every place must report A's canary with everything needed to trace it back.
func TestCanaryTraceableInEveryPlace(t *testing.T) {
	r := newRoots(t)
	procs := newOwnProcView(t)
	p := newTestProbe(t, r, WithProcDir(procs.dir)) // the sleeper is a real process
	runID := randomHex()
	first := mustHandle(t, p, Event{RunID: runID, Tenant: "tenant-a", Seq: 1, BackgroundDelay: time.Millisecond}, "req-a1")
	waitBackground(t, p, plantedIn(first, PlaceBackground)[0].Nonce)
	procs.refresh()
	second := mustHandle(t, p, Event{RunID: runID, Tenant: "tenant-b", Seq: 2}, "req-b2")

	if !slices.IsSortedFunc(second.Found, compareFound) {
		t.Error("Found is not sorted by place, seq, nonce")
	}
	for _, place := range allPlaces {
		t.Run(string(place), func(t *testing.T) {
			planted := plantedIn(first, place)
			found := foundFor(second, runID, place)
			if len(found) != len(planted) {
				t.Fatalf("found %d canaries of run %s, planted %d: %+v", len(found), runID, len(planted), found)
			}
			for _, f := range found {
				i := slices.IndexFunc(planted, func(pr PlantResult) bool { return pr.Nonce == f.Canary.Nonce })
				if i < 0 {
					t.Fatalf("found nonce %s was not planted at seq 1", f.Canary.Nonce)
				}
				want := Canary{Nonce: planted[i].Nonce, RunID: runID, Tenant: "tenant-a", ContextTenant: "tenant-a",
					EnvID: first.EnvID, RequestID: "req-a1", Seq: 1, Place: place}
				if f.Canary != want {
					t.Errorf("canary = %+v, want %+v", f.Canary, want)
				}
				if place != PlaceBackground && f.Where != planted[i].Where {
					t.Errorf("where = %q, planted at %q", f.Where, planted[i].Where)
				}
			}
		})
	}
}

func TestCodeDirWriteDetection(t *testing.T) {
	tests := []struct {
		name        string
		dir         func(t *testing.T) string
		wantWritten bool
		wantErr     string
	}{
		{name: "writable", dir: func(t *testing.T) string { return t.TempDir() }, wantWritten: true},
		{name: "read-only", dir: readOnlyDir, wantErr: "read-only file system"},
		{name: "missing", dir: func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone") }, wantErr: "no such file"},
		{name: "unset", dir: func(t *testing.T) string { return "" }, wantErr: "LAMBDA_TASK_ROOT is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			p := newTestProbe(t, newRoots(t), WithTaskRoot(dir))
			rep := mustHandle(t, p, Event{RunID: randomHex(), Tenant: "t", Seq: 1}, "req")
			if rep.CodeDirWritable != tt.wantWritten {
				t.Errorf("CodeDirWritable = %v, want %v", rep.CodeDirWritable, tt.wantWritten)
			}
			pr := plantedIn(rep, PlaceCodeDir)[0]
			if pr.Planted != tt.wantWritten || !strings.Contains(pr.Error, tt.wantErr) {
				t.Errorf("PlantResult = %+v, want planted=%v error containing %q", pr, tt.wantWritten, tt.wantErr)
			}
			if dir != "" && tt.wantWritten == (len(canaryFiles(t, dir)) == 0) {
				t.Errorf("files in code dir: %v", canaryFiles(t, dir))
			}
		})
	}
}

// readOnlyDir returns a directory no one can create files in. Root ignores permission bits, so
// as root it mounts a read-only tmpfs, as the local target mounts the code directory.
func readOnlyDir(t *testing.T) string {
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return dir
	}
	if err := syscall.Mount("tenantcheck-ro", dir, "tmpfs", syscall.MS_RDONLY, "size=64k"); err != nil {
		t.Skipf("root without CAP_SYS_ADMIN cannot make a read-only directory: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestHomeUnsetOrUnwritable(t *testing.T) {
	for _, tt := range []struct {
		name, home, wantErr string
	}{
		{"unset", "", "HOME is not set"},
		{"not-a-directory", "/dev/null", "not a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProbe(t, newRoots(t), WithHomeDir(tt.home))
			rep := mustHandle(t, p, Event{RunID: randomHex(), Tenant: "t", Seq: 1}, "req")
			pr := plantedIn(rep, PlaceHome)[0]
			if pr.Planted || !strings.Contains(pr.Error, tt.wantErr) {
				t.Errorf("home PlantResult = %+v, want error containing %q", pr, tt.wantErr)
			}
		})
	}
}

func TestBackgroundCanaryAppearsAfterDelay(t *testing.T) {
	p := newTestProbe(t, newRoots(t))
	runID := randomHex()
	const delay = 200 * time.Millisecond
	planted := time.Now()
	mustHandle(t, p, Event{RunID: runID, Tenant: "a", Seq: 1, BackgroundDelay: delay}, "r1")
	early := mustHandle(t, p, Event{RunID: runID, Tenant: "a", Seq: 2}, "r2")
	if time.Since(planted) < delay && len(foundFor(early, runID, PlaceBackground)) != 0 {
		t.Errorf("background canary reported before its delay: %+v", foundFor(early, runID, PlaceBackground))
	}
	var seq int64 = 3
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); seq++ {
		time.Sleep(delay / 4)
		// Another tenant looks, so tenant a's background canary is foreign and always reported.
		rep := mustHandle(t, p, Event{RunID: runID, Tenant: "b", Seq: seq}, "r")
		for _, f := range foundFor(rep, runID, PlaceBackground) {
			if f.Canary.Seq == 1 {
				if time.Since(planted) < delay {
					t.Errorf("background canary recorded after %s, before its %s delay", time.Since(planted), delay)
				}
				return
			}
		}
	}
	t.Fatal("background canary of seq 1 never appeared")
}

func TestActionsPlantFirst(t *testing.T) {
	tests := []struct {
		action  Action
		timeout time.Duration
		check   func(t *testing.T, start time.Time, deadline time.Time, exitCode int)
	}{
		{action: ActionError, timeout: 10 * time.Second},
		{action: ActionTimeout, timeout: 50 * time.Millisecond, check: func(t *testing.T, start, deadline time.Time, _ int) {
			if time.Now().Before(deadline.Add(30 * time.Millisecond)) {
				t.Errorf("returned %s after start, before deadline+overshoot", time.Since(start))
			}
		}},
		{action: ActionCrash, timeout: 10 * time.Second, check: func(t *testing.T, _, _ time.Time, code int) {
			if code != 3 {
				t.Errorf("exit code = %d, want 3", code)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			r := newRoots(t)
			exitCode := -1
			p := newTestProbe(t, r, WithTimeoutOvershoot(30*time.Millisecond), withExit(func(c int) { exitCode = c }))
			runID := randomHex()
			ctx := lambdaCtx(t, "a", "r1", tt.timeout)
			deadline, _ := ctx.Deadline()
			start := time.Now()
			rep, err := p.Handle(ctx, Event{Schema: SchemaVersion, RunID: runID, Tenant: "a", Seq: 1, Action: tt.action})
			var re *RequestedError
			if rep != nil || !errors.As(err, &re) || re.Action != tt.action || re.Seq != 1 {
				t.Fatalf("Handle = %v, %v; want nil and a RequestedError for %q", rep, err, tt.action)
			}
			if tt.check != nil {
				tt.check(t, start, deadline, exitCode)
			}
			next := mustHandle(t, p, Event{RunID: runID, Tenant: "a", Seq: 2}, "r2")
			if got := foundFor(next, runID, PlaceTmp); len(got) != 1 || got[0].Canary.Seq != 1 {
				t.Errorf("after %s, tmp canaries of seq 1 = %+v, want one", tt.action, got)
			}
		})
	}
}

func TestInvalidEventsPlantNothing(t *testing.T) {
	tests := []struct {
		name    string
		ev      Event
		wantErr string
	}{
		{"newer schema", Event{Schema: SchemaVersion + 1}, "event schema 2 is newer than this probe's schema 1"},
		{"negative schema", Event{Schema: -1}, "invalid event schema"},
		{"unknown action", Event{Schema: 1, Action: "explode"}, `unknown action "explode"`},
		{"negative delay", Event{Schema: 1, BackgroundDelay: -1}, "backgroundDelayNs"},
		{"negative hold", Event{Schema: 1, Hold: -1}, "holdNs"},
		{"hold past any timeout", Event{Schema: 1, Hold: 16 * time.Minute}, "holdNs"},
		{"remote report url", Event{Schema: 1, ReportURL: "http://169.254.169.254/latest"}, "not 127.0.0.1 or localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRoots(t)
			p := newTestProbe(t, r)
			rep, err := p.Handle(lambdaCtx(t, "a", "r", time.Second), tt.ev)
			var ee *EventError
			if rep != nil || !errors.As(err, &ee) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Handle = %v, %v; want EventError containing %q", rep, err, tt.wantErr)
			}
			if files := canaryFiles(t, r.tmp); len(files) != 0 {
				t.Errorf("refused event planted %v", files)
			}
		})
	}
}

// TestProcessScanOfFabricatedProc covers what a real /proc rarely shows on a test host:
// markers in cmdline, unreadable processes, and this process itself (which must be skipped).
func TestProcessScanOfFabricatedProc(t *testing.T) {
	r := newRoots(t)
	runID := randomHex()
	mk := func(seq int64) string {
		kv, err := marker(Canary{Nonce: randomHex(), RunID: runID, Tenant: "other", Seq: seq, Place: PlaceProcess})
		if err != nil {
			t.Fatal(err)
		}
		return kv
	}
	write := func(rel, content string) {
		path := filepath.Join(r.proc, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("42/environ", mk(1)+"\x00")                                     // self: skipped
	write("100/environ", "PATH=/usr/bin\x00"+mk(2)+"\x00HOME=/root\x00")  // found
	write("200/cmdline", "/var/task/bootstrap\x00"+mk(3)+"\x00")          // found
	write("300/environ", envPrefix+"deadbeef=not json\x00")               // readable, nothing
	write("net/environ", mk(4))                                           // not a pid
	if err := os.Mkdir(filepath.Join(r.proc, "400"), 0o755); err != nil { // unreadable: no files
		t.Fatal(err)
	}
	if err := os.Symlink("42", filepath.Join(r.proc, "self")); err != nil {
		t.Fatal(err)
	}
	p := newTestProbe(t, r)
	rep := mustHandle(t, p, Event{RunID: randomHex(), Tenant: "me", Seq: 9}, "r")
	got := foundFor(rep, runID, PlaceProcess)
	var where []string
	for _, f := range got {
		where = append(where, strings.TrimPrefix(f.Where, r.proc))
	}
	if want := []string{"/100/environ", "/200/cmdline"}; !slices.Equal(where, want) {
		t.Errorf("found at %v, want %v", where, want)
	}
	if rep.ProcessesSeen != 4 || rep.ProcessesReadable != 3 {
		t.Errorf("ProcessesSeen=%d ProcessesReadable=%d, want 4 and 3", rep.ProcessesSeen, rep.ProcessesReadable)
	}
}

func TestSleeperReplacement(t *testing.T) {
	tests := []struct {
		name        string
		interval    time.Duration
		wantPlanted []bool
	}{
		{"every invocation", 0, []bool{true, true, true}},
		{"rate-limited", time.Hour, []bool{true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs := newOwnProcView(t)
			p := newTestProbe(t, newRoots(t), WithProcDir(procs.dir), WithSleeperInterval(tt.interval))
			runID := randomHex()
			var pids []string
			for i, want := range tt.wantPlanted {
				procs.refresh()
				rep := mustHandle(t, p, Event{RunID: runID, Tenant: "a", Seq: int64(i + 1)}, "r")
				if i > 0 {
					// The live sleeper carries every canary planted so far, newest included. The
					// one it replaced is killed but may not have exited yet (reaped in the
					// background): the view still lists it, and the probe must not count it.
					if got := len(foundFor(rep, runID, PlaceProcess)); got != len(pids) {
						t.Errorf("seq %d found %d process canaries, want %d", i+1, got, len(pids))
					}
				}
				pr := plantedIn(rep, PlaceProcess)[0]
				if pr.Planted != want || (!want && !strings.Contains(pr.Error, "rate-limited")) {
					t.Fatalf("seq %d: %+v, want planted=%v", i+1, pr, want)
				}
				if pr.Planted {
					pids = append(pids, filepath.Base(filepath.Dir(pr.Where)))
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			for _, pid := range pids {
				waitGone(t, pid)
			}
		})
	}
}

// waitGone waits (bounded) until pid no longer runs; a zombie awaiting its reaper counts as gone.
func waitGone(t *testing.T, pid string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			return
		}
		if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
			return
		}
	}
	t.Errorf("sleeper %s still running", pid)
}

func TestFileScanKeepsForeignAndNewestOwn(t *testing.T) {
	r := newRoots(t)
	runID := randomHex()
	fs := &fileStore{where: PlaceTmp, dir: r.tmp}
	for seq := int64(1); seq <= 300; seq++ {
		c := Canary{Nonce: randomHex(), RunID: runID, Tenant: "me", ContextTenant: "me", Seq: seq, Place: PlaceTmp}
		if seq == 7 {
			c.Tenant = "someone-else"
		}
		if pr := fs.plant(c, &Event{}); !pr.Planted {
			t.Fatal(pr.Error)
		}
	}
	p := newTestProbe(t, r)
	ctx := lambdaCtx(t, "me", "r", time.Second)
	rep, err := p.Handle(ctx, Event{Schema: 1, RunID: runID, Tenant: "me", Seq: 301})
	if err != nil {
		t.Fatal(err)
	}
	got := foundFor(rep, runID, PlaceTmp)
	if len(got) != maxOwnPerPlace+1 || rep.Truncated {
		t.Fatalf("found %d (truncated=%v), want the %d newest own and the foreign one, untruncated", len(got), rep.Truncated, maxOwnPerPlace)
	}
	if !slices.ContainsFunc(got, func(f Found) bool { return f.Canary.Tenant == "someone-else" }) {
		t.Error("the foreign canary was dropped by the cap")
	}
	if got[len(got)-1].Canary.Seq != 300 {
		t.Errorf("newest kept seq = %d, want 300", got[len(got)-1].Canary.Seq)
	}
}

// TestConcurrentInvocations covers AWS_LAMBDA_MAX_CONCURRENCY > 1, where aws-lambda-go calls
// Handle from several goroutines of one process (run with -race).
func TestConcurrentInvocations(t *testing.T) {
	p := newTestProbe(t, newRoots(t))
	runID := randomHex()
	const workers, each = 4, 5
	reps := make(chan *Report, workers*each)
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := Event{Schema: 1, RunID: runID, Tenant: "a", Seq: int64(w*each + i + 1)}
				rep, err := p.Handle(lambdaCtx(t, "a", "r", 10*time.Second), ev)
				if err != nil {
					errs <- err
					continue
				}
				reps <- rep
			}
		})
	}
	wg.Wait()
	close(reps)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var served []int64
	cold := 0
	for rep := range reps {
		served = append(served, rep.Invocations)
		if rep.Cold {
			cold++
		}
	}
	slices.Sort(served)
	for i, n := range served {
		if n != int64(i+1) {
			t.Fatalf("Invocations = %v, want 1..%d once each", served, workers*each)
		}
	}
	if cold != 1 {
		t.Errorf("%d cold reports, want 1", cold)
	}
}

// TestHoldKeepsInvocationBusy: a hold delays the response by about its length, and a hold
// longer than the time left stops short of the deadline, so the invocation answers rather
// than timing out and resetting its environment.
func TestHoldKeepsInvocationBusy(t *testing.T) {
	tests := []struct {
		name     string
		hold     time.Duration
		timeout  time.Duration
		atLeast  time.Duration
		lessThan time.Duration
	}{
		{"short hold", 150 * time.Millisecond, 10 * time.Second, 150 * time.Millisecond, 5 * time.Second},
		// The invocation's own work before the hold gets most of 3 s, so a loaded machine
		// leaves the hold something to stop short of.
		{"hold past the deadline", time.Minute, 3 * time.Second, 1500 * time.Millisecond, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProbe(t, newRoots(t))
			ctx := lambdaCtx(t, "a", "r1", tt.timeout)
			start := time.Now()
			rep, err := p.Handle(ctx, Event{Schema: SchemaVersion, Tenant: "a", Seq: 1, Hold: tt.hold})
			took := time.Since(start)
			if err != nil || rep == nil {
				t.Fatalf("Handle: report %v, error %v", rep, err)
			}
			if ctx.Err() != nil {
				t.Fatalf("the hold ran into the deadline: %v", ctx.Err())
			}
			if took < tt.atLeast || took >= tt.lessThan {
				t.Fatalf("took %s, want in [%s, %s)", took, tt.atLeast, tt.lessThan)
			}
		})
	}
}

// TestSkipCanariesLeavesThePlacesAlone: an invocation that asks to skip canaries (the S3 phase's)
// finds and plants nothing, yet the canaries an earlier invocation planted are still there for
// the next one that looks.
func TestSkipCanariesLeavesThePlacesAlone(t *testing.T) {
	r := newRoots(t)
	p := newTestProbe(t, r)
	runID := randomHex()
	first := mustHandle(t, p, Event{RunID: runID, Tenant: "tenant-a", Seq: 1}, "req-a1")
	before := canaryFiles(t, r.tmp)

	skipped := mustHandle(t, p, Event{RunID: runID, Tenant: "tenant-b", Seq: 2, SkipCanaries: true}, "req-b2")
	if len(skipped.Found) != 0 || len(skipped.Planted) != 0 {
		t.Errorf("skipping invocation found %d and planted %d canaries, want none", len(skipped.Found), len(skipped.Planted))
	}
	if after := canaryFiles(t, r.tmp); !slices.Equal(after, before) {
		t.Errorf("/tmp canaries changed across a skipping invocation: %v, then %v", before, after)
	}

	third := mustHandle(t, p, Event{RunID: runID, Tenant: "tenant-b", Seq: 3}, "req-b3")
	if got := foundFor(third, runID, PlaceTmp); len(got) != len(plantedIn(first, PlaceTmp)) || got[0].Canary.Seq != 1 {
		t.Errorf("after the skipping invocation, tmp canaries found = %+v, want seq 1's", got)
	}
}
