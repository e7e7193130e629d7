package probes

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Marker formats. Each is specific enough that nothing but a probe produces it, and carries
// the whole Canary so a finding needs no lookup to be traced.
const (
	// filePrefix+<nonce>+fileSuffix holds the Canary JSON (tmp, dev-shm, var-tmp, home, code-dir).
	filePrefix = "tenantcheck-canary-"
	fileSuffix = ".json"
	// envPrefix+<nonce>=<Canary JSON> is an environment entry (env-var, and process environ/cmdline).
	envPrefix = "TENANTCHECK_CANARY_"
	// sessionTokenPrefix+base64url(Canary JSON) is a fake session token in the credential cache.
	sessionTokenPrefix = "TCCANARY1"

	// maxScanPerPlace bounds the markers read from one place per invocation (a shared /tmp on
	// a careless host can hold millions); maxMarkerBytes bounds one marker file.
	maxScanPerPlace = 4096
	maxMarkerBytes  = 64 << 10
)

// store is one place: something that can be scanned for canaries and planted with one.
type store interface {
	place() Place
	scan(sc *scanState)
	// plant puts c in the place. Place and Nonce of the result are filled by the caller.
	plant(c Canary, ev *Event) PlantResult
}

// scanState accumulates one invocation's scan.
type scanState struct {
	found                  []Found
	truncated              bool
	procSeen, procReadable int
	buf                    []byte // reused for every file read
}

func (sc *scanState) add(c Canary, place Place, where string) {
	sc.found = append(sc.found, Found{Canary: c, Place: place, Where: where})
}

// lastCanaries is deliberately the kind of package-level variable careless handler code keeps
// ("remember the last few requests for debugging"). It lives as long as the process, so on a
// target that reuses an environment across tenants it carries one tenant's data into another's
// invocation. It exists so PlaceMemory covers globals as well as the Probe's own fields.
var lastCanaries = newRing(maxKept)

// cachedCreds is deliberately the global credentials cache careless code keeps so it does not
// call STS on every invocation. Its fake credentials embed a canary in the access key id and
// session token: if a target hands this process to another tenant, that tenant's invocation
// would be using the first tenant's credentials, and the probe reports it.
var cachedCreds = newCredCache(maxKept)

// ring keeps the last n canaries, guarded for concurrent invocations and background goroutines.
type ring struct {
	mu    sync.Mutex
	n     int
	items []Canary
}

func newRing(n int) *ring { return &ring{n: n} }

func (r *ring) add(c Canary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.items) == r.n {
		copy(r.items, r.items[1:])
		r.items = r.items[:r.n-1]
	}
	r.items = append(r.items, c)
}

func (r *ring) snapshot() []Canary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Canary(nil), r.items...)
}

// memoryStore is PlaceMemory: either the Probe's own ring or the package-level one.
type memoryStore struct {
	ring  *ring
	where string
}

func (m *memoryStore) place() Place { return PlaceMemory }

func (m *memoryStore) scan(sc *scanState) {
	for _, c := range m.ring.snapshot() {
		sc.add(c, PlaceMemory, m.where)
	}
}

func (m *memoryStore) plant(c Canary, _ *Event) PlantResult {
	m.ring.add(c)
	return PlantResult{Planted: true, Where: m.where}
}

// fileStore is a directory place. Own files are never deleted: removing them would hide the
// very leak a later invocation is meant to find.
type fileStore struct {
	where Place
	dir   string
	unset string // why dir is empty, when it is
}

func (f *fileStore) place() Place { return f.where }

func (f *fileStore) scan(sc *scanState) {
	if f.dir == "" {
		return
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return // reported by plant, which fails on the same directory
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
			continue
		}
		if n == maxScanPerPlace {
			sc.truncated = true
			return
		}
		n++
		path := filepath.Join(f.dir, name)
		data, err := readSmall(path, &sc.buf, maxMarkerBytes)
		if err != nil {
			continue
		}
		var c Canary
		if json.Unmarshal(data, &c) != nil || c.Nonce == "" {
			continue
		}
		sc.add(c, f.where, path)
	}
}

func (f *fileStore) plant(c Canary, _ *Event) PlantResult {
	if f.dir == "" {
		return PlantResult{Error: f.unset}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return PlantResult{Error: fmt.Sprintf("encode canary: %v", err)}
	}
	// Write under a name the scanner ignores, then rename: a concurrent scan never sees half
	// a canary.
	final := filepath.Join(f.dir, filePrefix+c.Nonce+fileSuffix)
	partial := filepath.Join(f.dir, ".tenantcheck-partial-"+c.Nonce)
	if err := os.WriteFile(partial, data, 0o644); err != nil {
		return PlantResult{Where: final, Error: fmt.Sprintf("write canary: %v", err)}
	}
	if err := os.Rename(partial, final); err != nil {
		_ = os.Remove(partial)
		return PlantResult{Where: final, Error: fmt.Sprintf("rename canary: %v", err)}
	}
	return PlantResult{Planted: true, Where: final}
}

// readSmall reads at most limit bytes of path into *buf (reused across calls) and returns them;
// the slice is valid until the next call. It uses raw syscalls because os.Open registers every
// file with the network poller, which costs a third of a scan that reads hundreds of tiny files.
func readSmall(path string, buf *[]byte, limit int) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	if cap(*buf) < 4096 {
		*buf = make([]byte, 0, 4096)
	}
	b := (*buf)[:0]
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):min(cap(b), limit)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			*buf = b
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	*buf = b
	return b, nil
}

// envStore is PlaceEnvVar: os.Setenv at run time. It unsets its own oldest variables beyond
// maxKept so a long-lived environment's os.Environ stays small; variables it did not set are
// never touched.
type envStore struct {
	mu    sync.Mutex
	names []string
}

func (e *envStore) place() Place { return PlaceEnvVar }

func (e *envStore) scan(sc *scanState) {
	n := 0
	for _, kv := range os.Environ() {
		c, name, ok := parseMarker(kv)
		if !ok {
			continue
		}
		if n == maxScanPerPlace {
			sc.truncated = true
			return
		}
		n++
		sc.add(c, PlaceEnvVar, "env "+name)
	}
}

func (e *envStore) plant(c Canary, _ *Event) PlantResult {
	kv, err := marker(c)
	if err != nil {
		return PlantResult{Error: err.Error()}
	}
	name, value, _ := strings.Cut(kv, "=")
	if err := os.Setenv(name, value); err != nil {
		return PlantResult{Where: "env " + name, Error: fmt.Sprintf("setenv: %v", err)}
	}
	e.mu.Lock()
	e.names = append(e.names, name)
	for len(e.names) > maxKept {
		_ = os.Unsetenv(e.names[0])
		e.names = e.names[1:]
	}
	e.mu.Unlock()
	return PlantResult{Planted: true, Where: "env " + name}
}

// marker renders c as an environment entry: envPrefix<nonce>=<json>.
func marker(c Canary) (string, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode canary: %w", err)
	}
	return envPrefix + c.Nonce + "=" + string(data), nil
}

// parseMarker recognises an environment entry or argument written by marker.
func parseMarker(kv string) (Canary, string, bool) {
	if !strings.HasPrefix(kv, envPrefix) {
		return Canary{}, "", false
	}
	name, value, ok := strings.Cut(kv, "=")
	if !ok {
		return Canary{}, "", false
	}
	var c Canary
	if json.Unmarshal([]byte(value), &c) != nil || c.Nonce == "" {
		return Canary{}, "", false
	}
	return c, name, true
}

// backgroundStore is PlaceBackground: each plant starts a goroutine that outlives the response
// and records its canary later, in state owned by background work alone. On Lambda the
// goroutine is frozen with the environment and resumes in whatever invocation comes next.
type backgroundStore struct {
	ring *ring
}

func (b *backgroundStore) place() Place { return PlaceBackground }

func (b *backgroundStore) scan(sc *scanState) {
	for _, c := range b.ring.snapshot() {
		sc.add(c, PlaceBackground, "background goroutine")
	}
}

func (b *backgroundStore) plant(c Canary, ev *Event) PlantResult {
	d := ev.BackgroundDelay
	if d == 0 {
		d = defaultBackgroundDelay
	}
	go func() {
		t := time.NewTimer(d)
		<-t.C
		b.ring.add(c)
	}()
	return PlantResult{Planted: true, Where: fmt.Sprintf("background goroutine (records after %s)", d)}
}

// fakeCredentials looks like an STS session so the cache resembles the real mistake.
type fakeCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expires         time.Time
}

// credCache is the shape of a global "assume once, reuse" credentials cache, keeping the last
// n sessions.
type credCache struct {
	mu    sync.Mutex
	n     int
	creds []fakeCredentials
}

func newCredCache(n int) *credCache { return &credCache{n: n} }

type credStore struct {
	cache *credCache
}

func (s *credStore) place() Place { return PlaceCredCache }

func (s *credStore) scan(sc *scanState) {
	s.cache.mu.Lock()
	creds := append([]fakeCredentials(nil), s.cache.creds...)
	s.cache.mu.Unlock()
	for _, cr := range creds {
		raw, ok := strings.CutPrefix(cr.SessionToken, sessionTokenPrefix)
		if !ok {
			continue
		}
		data, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil {
			continue
		}
		var c Canary
		if json.Unmarshal(data, &c) != nil || c.Nonce == "" {
			continue
		}
		sc.add(c, PlaceCredCache, "cachedCreds["+cr.AccessKeyID+"]")
	}
}

func (s *credStore) plant(c Canary, _ *Event) PlantResult {
	data, err := json.Marshal(c)
	if err != nil {
		return PlantResult{Error: fmt.Sprintf("encode canary: %v", err)}
	}
	cr := fakeCredentials{
		AccessKeyID:     "ASIA" + strings.ToUpper(c.Nonce[:16]),
		SecretAccessKey: "tenantcheck-fake-secret-" + c.Nonce,
		SessionToken:    sessionTokenPrefix + base64.RawURLEncoding.EncodeToString(data),
		Expires:         time.Now().Add(time.Hour),
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if len(s.cache.creds) == s.cache.n {
		s.cache.creds = append(s.cache.creds[:0], s.cache.creds[1:]...)
	}
	s.cache.creds = append(s.cache.creds, cr)
	return PlantResult{Planted: true, Where: "cachedCreds[" + cr.AccessKeyID + "]"}
}
