package probes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
)

const (
	// childEnv marks a process started as the probe's sleeper; IsLambdaRuntime and Main route it.
	childEnv = "TENANTCHECK_PROBE_CHILD"
	// childArgv0 makes the sleeper recognisable in ps.
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
// Why replace the child on every invocation: execve sets a process's environ once, and the new
// environment is readable in /proc as soon as os.StartProcess returns (it waits for the exec),
// so the canary is visible before the response leaves, with no waiting on the child. The brief
// allowed 1 ms per invocation for this; BenchmarkSleeperReplace measured 0.73-0.85 ms on the
// 2-core development host under load (fork+exec waited for, old child killed and reaped in the
// background), so every invocation replaces it. Keeping one child and feeding it canaries later
// would cost less but needs the child to re-exec itself asynchronously, and a following
// invocation could then scan before the re-exec: a plant that is not yet visible produces false
// "no reuse" results.
type procStore struct {
	dir     string
	exe     string
	ring    *ring
	sleeper *sleeper
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
	pids := make([]int, 0, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 || name == self {
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
	mu   sync.Mutex
	proc *os.Process
	pipe *os.File
}

func (s *sleeper) replace(exe string, env []string) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("sleeper pipe: %w", err)
	}
	proc, err := os.StartProcess(exe, []string{childArgv0}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{r, nil, nil},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	r.Close()
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("start sleeper %s: %w", exe, err)
	}
	s.mu.Lock()
	oldProc, oldPipe := s.proc, s.pipe
	s.proc, s.pipe = proc, w
	s.mu.Unlock()
	if oldProc != nil {
		stopChild(oldProc, oldPipe, false)
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
	return stopChild(proc, pipe, true)
}

// stopChild kills the child by its pid and reaps it, in the background unless wait is set, so
// replacing a child does not add its exit to the invocation's latency.
func stopChild(proc *os.Process, pipe *os.File, wait bool) error {
	pipe.Close()
	if err := proc.Kill(); err != nil {
		return fmt.Errorf("kill sleeper %d: %w", proc.Pid, err)
	}
	if !wait {
		go func() { _, _ = proc.Wait() }()
		return nil
	}
	if _, err := proc.Wait(); err != nil {
		return fmt.Errorf("reap sleeper %d: %w", proc.Pid, err)
	}
	return nil
}

// runChild is the sleeper's whole life: block until the probe closes the pipe or dies.
func runChild() {
	var b [1]byte
	for {
		if _, err := os.Stdin.Read(b[:]); err != nil {
			os.Exit(0)
		}
	}
}
