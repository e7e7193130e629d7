package probes

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

const (
	// lockBase is where the probe's byte-range locks start: far past the end of any real code
	// file (a lock may lie beyond a file's end), so no one else's locks are mistaken for canaries.
	lockBase = int64(1) << 40
	// lockSpan is the range a token maps into: a canary's first 8 hex digits.
	lockSpan = int64(1) << 32
	// maxLockScan bounds the other environments' locks one scan reports.
	maxLockScan = 64
	// LockTokenLen is how many leading hex digits of a canary's nonce a lock carries; the
	// runner resolves a lock found by another environment to its planter by this prefix.
	LockTokenLen = 8
)

// lockStore is PlaceLocks: byte-range locks on the function's own code file, which every
// environment can open read-only. The kernel keeps such locks per inode, so a target that shows
// environments of different tenants the same inode of the code (a shared bind mount of one
// unpacked copy) lets one tenant's lock be seen by the next: a bit per byte offset, or here a
// canary's token. On Lambda each environment is its own microVM; a self-hosted target needs a
// mount of its own per environment (an overlay) or a copy.
//
// A plant takes an open-file-description read lock of one byte at lockBase plus the canary's
// token (its nonce's first LockTokenLen hex digits) and keeps the last maxKept; a scan asks the
// kernel for locks that conflict with a write lock over the whole span, which are exactly
// other open files' locks: this probe's own never conflict with its own file description.
// A found lock carries only the token: the runner resolves it to the invocation that planted it.
type lockStore struct {
	dir   string // LAMBDA_TASK_ROOT
	unset string // why the store cannot work, when dir is ""

	mu   sync.Mutex
	f    *os.File
	path string
	held []int64 // offsets of the locks this environment holds, oldest first
}

func (s *lockStore) place() Place { return PlaceLocks }

// open opens the code file to lock: bootstrap in the task root, else its first regular file.
func (s *lockStore) open() error {
	if s.f != nil {
		return nil
	}
	if s.dir == "" {
		return fmt.Errorf("%s", s.unset)
	}
	path := filepath.Join(s.dir, "bootstrap")
	if _, err := os.Stat(path); err != nil {
		entries, _ := os.ReadDir(s.dir)
		path = ""
		for _, e := range entries {
			if e.Type().IsRegular() {
				path = filepath.Join(s.dir, e.Name())
				break
			}
		}
		if path == "" {
			return fmt.Errorf("no file to lock in %s", s.dir)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	s.f, s.path = f, path
	return nil
}

func (s *lockStore) scan(sc *scanState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open() != nil {
		return
	}
	for _, off := range othersLocks(int(s.f.Fd()), lockBase, lockBase+lockSpan, maxLockScan) {
		token := fmt.Sprintf("%0*x", LockTokenLen, off-lockBase)
		sc.add(Canary{Nonce: token, Place: PlaceLocks}, PlaceLocks,
			fmt.Sprintf("byte-range lock on %s at offset %d", s.path, off))
	}
}

func (s *lockStore) plant(c Canary, _ *Event) PlantResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(); err != nil {
		return PlantResult{Error: err.Error()}
	}
	if len(c.Nonce) < LockTokenLen {
		return PlantResult{Error: "nonce too short for a lock token"}
	}
	token, err := strconv.ParseUint(c.Nonce[:LockTokenLen], 16, 32)
	if err != nil {
		return PlantResult{Error: fmt.Sprintf("lock token of nonce %q: %v", c.Nonce, err)}
	}
	off := lockBase + int64(token)
	if err := setLock(int(s.f.Fd()), unix.F_RDLCK, off); err != nil {
		return PlantResult{Error: fmt.Sprintf("lock %s at %d: %v", s.path, off, err)}
	}
	s.held = append(s.held, off)
	if len(s.held) > maxKept {
		_ = setLock(int(s.f.Fd()), unix.F_UNLCK, s.held[0])
		s.held = s.held[1:]
	}
	return PlantResult{Planted: true, Where: fmt.Sprintf("%s@%d", s.path, off)}
}

// setLock sets (or, with F_UNLCK, clears) an open-file-description lock on one byte at off.
func setLock(fd int, typ int16, off int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: off, Len: 1}
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
}

// othersLocks lists the start offsets of locks in [from, to) held through other open file
// descriptions, at most limit of them. The kernel answers F_OFD_GETLK with one conflicting lock
// at a time, not necessarily the lowest, so the range is split around each answer.
func othersLocks(fd int, from, to int64, limit int) []int64 {
	var out []int64
	var walk func(lo, hi int64)
	walk = func(lo, hi int64) {
		if lo >= hi || len(out) >= limit {
			return
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: lo, Len: hi - lo}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil || lk.Type == unix.F_UNLCK {
			return
		}
		start, end := max(lk.Start, lo), hi
		if lk.Len > 0 {
			end = min(lk.Start+lk.Len, hi)
		}
		out = append(out, start)
		walk(lo, start)
		walk(end, hi)
	}
	walk(from, to)
	return out
}
