package probes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hogEnv asks a child of the probe to allocate and touch this many MB, then exit.
const hogEnv = "TENANTCHECK_PROBE_HOG_MB"

// hogMarginMB is how far past the limit the child allocates: enough that a limit enforced to
// the page cannot be missed, small enough to cost a host without one little.
const hogMarginMB = 64

// hogDeadlineMargin is how long before the invocation's deadline an unfinished allocation is
// stopped, leaving the probe time to report even on a loaded host (the matrix test runs the
// probe with a 1 s timeout).
const hogDeadlineMargin = 400 * time.Millisecond

// maxHogMB bounds any one allocation, whatever the event asks: the probe tries a limit, it
// does not exhaust a host that has none.
const maxHogMB = 16 << 10

// MemoryRequest asks the probe to allocate past its environment's memory limit (TI-RES-001).
// The probe reads its MemorySize from AWS_LAMBDA_FUNCTION_MEMORY_SIZE; AllowanceMB is what the
// target declares it allows beyond that (the built-in target: EphemeralStorage, because its /tmp
// lives in memory).
type MemoryRequest struct {
	AllowanceMB int `json:"allowanceMb,omitempty"`
}

// MemoryAttempt is what came of a MemoryRequest. The allocation runs in a child process so the
// probe itself survives a target that kills only the biggest process. Allocated means the child
// touched every page of RequestedMB and exited cleanly: the limit was not enforced. A target that
// enforces it kills the child (Killed) or ends the invocation (Runtime.OutOfMemory, no report).
//
// An allocation still running near the invocation's deadline is stopped by the probe
// (Unfinished), so the attempt never turns into a timeout; the limit the probe reads from its
// memory cgroup then decides. CgroupLimitMB is that limit: -1 for none, 0 when it cannot be read
// (no cgroup file system in view, as on Lambda).
type MemoryAttempt struct {
	LimitMB       int    `json:"limitMb"`
	RequestedMB   int    `json:"requestedMb"`
	Allocated     bool   `json:"allocated"`
	Killed        bool   `json:"killed,omitempty"`
	Unfinished    bool   `json:"unfinished,omitempty"`
	CgroupLimitMB int    `json:"cgroupLimitMb,omitempty"`
	Detail        string `json:"detail,omitempty"`
	// Error is set when the attempt could not be made at all; it is then not evidence.
	Error string `json:"error,omitempty"`
}

// tryMemory runs req: a child of exe allocates the function's declared limit plus a margin.
func tryMemory(ctx context.Context, exe string, req *MemoryRequest) *MemoryAttempt {
	if req == nil {
		return nil
	}
	mem, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil || mem <= 0 {
		return &MemoryAttempt{Error: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not set: the function's memory size is unknown"}
	}
	a := &MemoryAttempt{LimitMB: mem + max(req.AllowanceMB, 0)}
	a.RequestedMB = min(a.LimitMB+hogMarginMB, maxHogMB)
	if exe == "" {
		a.Error = "no executable to start the allocating child from"
		return a
	}
	a.CgroupLimitMB = readMemoryLimitMB("/proc/self/cgroup", "/sys/fs/cgroup")
	// Stop the child well before the deadline: the report must still go out.
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		cctx, cancel = context.WithDeadline(ctx, deadline.Add(-hogDeadlineMargin))
	}
	defer cancel()
	if cctx.Err() != nil {
		a.Unfinished, a.Detail = true, "too close to the deadline to start the allocation"
		return a
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{childArgv0}
	cmd.Env = []string{childEnv + "=1", hogEnv + "=" + strconv.Itoa(a.RequestedMB)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		a.Error = fmt.Sprintf("start the allocating child: %v", err)
		return a
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-cctx.Done():
		// Killed, and reaped in the background: a child deep in memory reclaim may take a
		// while to die, and the report must not wait for it.
		_ = cmd.Process.Kill()
		a.Unfinished = true
		a.Detail = fmt.Sprintf("the allocation of %d MB was still running near the deadline and was stopped", a.RequestedMB)
		return a
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		a.Allocated = true
		a.Detail = fmt.Sprintf("a child allocated and touched %d MB, past the limit of %d MB", a.RequestedMB, a.LimitMB)
	case errors.As(err, &ee) && ee.ProcessState != nil:
		if ws, ok := ee.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			a.Killed = true
		}
		a.Detail = fmt.Sprintf("the child allocating %d MB ended: %s", a.RequestedMB, ee.ProcessState)
	default:
		a.Error = fmt.Sprintf("wait for the allocating child: %v", err)
	}
	return a
}

// runHog is the allocating child: touch mb megabytes page by page, then exit 0. A limit stops
// it on the way (the OOM killer's SIGKILL).
func runHog(mb string) {
	n, err := strconv.Atoi(mb)
	if err != nil || n <= 0 || n > maxHogMB {
		os.Exit(2)
	}
	size := n << 20
	buf, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		os.Exit(3)
	}
	// One populating call has the kernel fault every page in without a trap per 4 KB page
	// (about 0.35 s for 700 MB here, against 0.5 s touching). Huge pages would be faster still
	// on a warm host but cost seconds of compaction in a fresh cgroup. An older kernel refuses
	// MADV_POPULATE_WRITE (5.14+); then every page is touched.
	if unix.Madvise(buf, unix.MADV_POPULATE_WRITE) != nil {
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
	}
	os.Exit(0)
}

// idleTick is how often the idle watcher's goroutine wakes: short enough that a gap of a few
// ticks is noise, long enough to cost nothing measurable.
const idleTick = 10 * time.Millisecond

// IdleWindow is how the environment spent the time since its previous invocation ended: a
// goroutine of the probe wakes every idleTick, and StoppedMs is the longest it went without
// waking. An environment frozen while idle stands still for (nearly) the whole window; one left
// running wakes every few milliseconds, and its background threads could act meanwhile.
type IdleWindow struct {
	WindowMs  int64 `json:"windowMs"`
	StoppedMs int64 `json:"stoppedMs"`
}

// idleWatch measures IdleWindows. Its goroutine starts after the first invocation and stops with
// the probe.
type idleWatch struct {
	mu       sync.Mutex
	busy     int
	idleFrom time.Time // when the last invocation ended; zero before the first
	lastTick time.Time
	longest  time.Duration
	started  bool
	stop     chan struct{}
}

// begin is called as an invocation starts: it closes the idle window, if one was open.
func (w *idleWatch) begin() *IdleWindow {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy++
	if w.busy > 1 || w.idleFrom.IsZero() {
		return nil
	}
	now := time.Now()
	longest := max(w.longest, now.Sub(w.lastTick))
	return &IdleWindow{WindowMs: now.Sub(w.idleFrom).Milliseconds(), StoppedMs: longest.Milliseconds()}
}

// end is called as an invocation ends: it opens an idle window when none other is running.
func (w *idleWatch) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy--
	if w.busy > 0 {
		return
	}
	now := time.Now()
	w.idleFrom, w.lastTick, w.longest = now, now, 0
	if !w.started {
		w.started = true
		w.stop = make(chan struct{})
		go w.run(w.stop)
	}
}

func (w *idleWatch) run(stop <-chan struct{}) {
	t := time.NewTicker(idleTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			now := time.Now() // when this goroutine ran, not when the tick was due
			w.mu.Lock()
			if w.busy == 0 {
				w.longest = max(w.longest, now.Sub(w.lastTick))
				w.lastTick = now
			}
			w.mu.Unlock()
		}
	}
}

func (w *idleWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started && w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
}

// readMemoryLimitMB returns the limit of this process's memory cgroup in MB, read from the
// cgroup file system under root for the path procCgroup names (cgroup v1's memory hierarchy or
// the unified v2 one): -1 when nothing limits it, 0 when it cannot be read.
func readMemoryLimitMB(procCgroup, root string) int {
	v1, v2, ok := ownCgroupPaths(procCgroup, "memory")
	if !ok {
		return 0
	}
	file := filepath.Join(root, "memory", v1, "memory.limit_in_bytes")
	if v1 == "" {
		file = filepath.Join(root, v2, "memory.max")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	v := strings.TrimSpace(string(b))
	if v == "max" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	if n >= 1<<50 { // cgroup v1 writes "no limit" as a page-rounded maximum
		return -1
	}
	return int(n >> 20)
}
