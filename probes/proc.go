package probes

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	// childEnv marks a process started as the probe's sleeper; IsLambdaRuntime and Main route it.
	childEnv = "TENANTCHECK_PROBE_CHILD"
	// childArgv0 makes a sleeper that runs the probe binary recognisable in ps. A lean sleeper
	// keeps its program's own name (sleeperArgv0): multi-call binaries such as busybox choose
	// what to run by it, and would exit at once under another.
	childArgv0 = "tenantcheck-probe-child"
	// maxProcs bounds how many /proc entries one scan reads.
	maxProcs = 4096
	// maxProcFileBytes bounds one environ or cmdline read (Linux caps argv+env near 2 MB).
	maxProcFileBytes = 2 << 20
)

// procStore is PlaceProcess. Scanning reads every other visible process's environ and cmdline.
// Planting replaces the probe's sleeping child with one whose environment carries the last
// maxKept process canaries, so another tenant that can read this environment's processes finds
// them in /proc/<pid>/environ.
//
// Cost. Replacing the child means one fork+exec per planting invocation, so what the child runs
// decides most of the cost: the probe binary itself pays the Go runtime's start and every linked
// package's initialisation (16-19 ms of CPU for the tenantcheck binary, measured with perf stat on
// the 2-core development host), cat about 0.7 ms. The sleeper only has to exist with the canaries
// in its environment and die with the probe, so New picks cat where the system has one
// (leanSleeper; Amazon Linux and every host the built-in target runs on do) and the probe binary
// otherwise. Even so the child is replaced at most once per WithSleeperInterval (default 20 ms):
// sequential invocations spaced further apart plant every time, a burst plants on its first
// invocation and reports the others as "rate-limited" (Planted false, so a check never counts a
// plant that did not happen).
//
// Why replace rather than keep one child: execve sets a process's environ once, and the new
// environment is readable in /proc as soon as os.StartProcess returns (it waits for the exec),
// so a plant is visible before the response leaves. Feeding a long-lived child canaries later
// would need it to re-exec itself asynchronously, and a following invocation could scan before
// the re-exec: a plant not yet visible produces false "no reuse" results.
type procStore struct {
	dir         string
	exe         string
	minInterval time.Duration
	ring        *ring
	sleeper     *sleeper
}

func (p *procStore) place() Place { return PlaceProcess }

func (p *procStore) scan(sc *scanState) {
	d, err := os.Open(p.dir)
	if err != nil {
		return
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return
	}
	self := selfPID(p.dir)
	discarded := p.sleeper.discarded()
	pids := make([]int, 0, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 || name == self || discarded[pid] {
			continue
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	if len(pids) > maxProcs {
		pids, sc.truncated = pids[:maxProcs], true
	}
	sc.procSeen += len(pids)
	n := 0
	for _, pid := range pids {
		readable := false
		for _, file := range [...]string{"environ", "cmdline"} {
			path := filepath.Join(p.dir, strconv.Itoa(pid), file)
			data, err := readSmall(path, &sc.buf, maxProcFileBytes)
			if err != nil {
				continue // permission denied, or the process is gone
			}
			readable = true
			for field := range bytes.SplitSeq(data, []byte{0}) {
				if !bytes.HasPrefix(field, []byte(envPrefix)) {
					continue
				}
				c, _, ok := parseMarker(string(field))
				if !ok {
					continue
				}
				if n == maxScanPerPlace {
					sc.truncated = true
					break
				}
				n++
				sc.add(c, PlaceProcess, path)
			}
		}
		if readable {
			sc.procReadable++
		}
	}
}

// leanSleeper returns a system program that can be the sleeper, or fallback when there is none.
// cat blocks reading standard input and exits at its end, which is the whole of runChild's
// contract.
func leanSleeper(fallback string) string {
	for _, path := range [...]string{"/usr/bin/cat", "/bin/cat"} {
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return path
		}
	}
	return fallback
}

// sleeperArgv0 is the name a sleeper running exe is started under: cat and its kin keep their
// own, anything else (the probe binary) is childArgv0.
func sleeperArgv0(exe string) string {
	if base := filepath.Base(exe); base == "cat" {
		return base
	}
	return childArgv0
}

// selfPID names this process as dir sees it: inside a PID namespace with the host's /proc,
// os.Getpid would name another process.
func selfPID(dir string) string {
	if target, err := os.Readlink(filepath.Join(dir, "self")); err == nil {
		return filepath.Base(target)
	}
	return strconv.Itoa(os.Getpid())
}

func (p *procStore) plant(c Canary, _ *Event) PlantResult {
	if p.exe == "" {
		return PlantResult{Error: "no child executable configured (WithChildExecutable)"}
	}
	if os.Getenv(childEnv) == "1" {
		return PlantResult{Error: "refusing to start a sleeper from a sleeper"}
	}
	if ok, since := p.sleeper.claim(p.minInterval); !ok {
		return PlantResult{Error: fmt.Sprintf("rate-limited: sleeper replaced %s ago, at most once per %s", since.Round(time.Microsecond), p.minInterval)}
	}
	p.ring.add(c)
	env := []string{childEnv + "=1", "GOMAXPROCS=1", "GOGC=off"}
	for _, k := range p.ring.snapshot() {
		kv, err := marker(k)
		if err != nil {
			return PlantResult{Error: err.Error()}
		}
		env = append(env, kv)
	}
	pid, err := p.sleeper.replace(p.exe, env)
	if err != nil {
		return PlantResult{Error: err.Error()}
	}
	return PlantResult{Planted: true, Where: filepath.Join(p.dir, strconv.Itoa(pid), "environ")}
}

// sleeper owns the one child process. The child never outlives the probe: it gets SIGKILL when
// the probe dies (Pdeathsig) and, should that be missed, exits on EOF of its stdin, a pipe whose
// only write end the probe holds.
type sleeper struct {
	mu        sync.Mutex
	proc      *os.Process
	pipe      *os.File
	lastClaim time.Time
	// stopping holds the pids of replaced children that are killed but not yet reaped. SIGKILL
	// takes effect only when the kernel next runs the child, and on a loaded host that can be
	// after the next invocation's scan: until then the discarded child's environ still reads
	// as before, and the scan would report this environment's canaries a second time, in a
	// process the probe has already let go.
	stopping map[int]bool
}

// discarded returns the pids of replaced children that may still be visible in /proc.
func (s *sleeper) discarded() map[int]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stopping) == 0 {
		return nil
	}
	return maps.Clone(s.stopping)
}

// claim reserves the right to replace the child unless that happened less than min ago, so
// concurrent invocations cannot both replace it inside the interval.
func (s *sleeper) claim(min time.Duration) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if since := now.Sub(s.lastClaim); !s.lastClaim.IsZero() && since < min {
		return false, since
	}
	s.lastClaim = now
	return true, 0
}

func (s *sleeper) replace(exe string, env []string) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("sleeper pipe: %w", err)
	}
	// Standard output and error go to /dev/null rather than closed descriptors: cat refuses to
	// start without a standard output, and a sleeper that exits at once would be a plant no one
	// can find, reported as made.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		r.Close()
		w.Close()
		return 0, fmt.Errorf("sleeper output: %w", err)
	}
	proc, err := os.StartProcess(exe, []string{sleeperArgv0(exe)}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{r, null, null},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	r.Close()
	null.Close()
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("start sleeper %s: %w", exe, err)
	}
	s.mu.Lock()
	oldProc, oldPipe := s.proc, s.pipe
	s.proc, s.pipe = proc, w
	if oldProc != nil {
		if s.stopping == nil {
			s.stopping = map[int]bool{}
		}
		s.stopping[oldProc.Pid] = true
	}
	s.mu.Unlock()
	if oldProc != nil {
		// Forget the pid only once reaped: from then on it may name someone else's process.
		stopChild(oldProc, oldPipe, func() {
			s.mu.Lock()
			delete(s.stopping, oldProc.Pid)
			s.mu.Unlock()
		})
	}
	return proc.Pid, nil
}

func (s *sleeper) close() error {
	s.mu.Lock()
	proc, pipe := s.proc, s.pipe
	s.proc, s.pipe = nil, nil
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	return stopChild(proc, pipe, nil)
}

// stopChild kills the child by its pid and reaps it. With a reaped callback it reaps in the
// background and calls reaped afterwards, so replacing a child does not add its exit to the
// invocation's latency; with nil it waits.
func stopChild(proc *os.Process, pipe *os.File, reaped func()) error {
	pipe.Close()
	if err := proc.Kill(); err != nil {
		if reaped != nil {
			reaped()
		}
		return fmt.Errorf("kill sleeper %d: %w", proc.Pid, err)
	}
	if reaped != nil {
		go func() {
			_, _ = proc.Wait()
			reaped()
		}()
		return nil
	}
	if _, err := proc.Wait(); err != nil {
		return fmt.Errorf("reap sleeper %d: %w", proc.Pid, err)
	}
	return nil
}

// runChild is the sleeper's whole life: block until the probe closes the pipe or dies.
func runChild() {
	if mb := os.Getenv(hogEnv); mb != "" {
		runHog(mb)
	}
	var b [1]byte
	for {
		if _, err := os.Stdin.Read(b[:]); err != nil {
			os.Exit(0)
		}
	}
}
