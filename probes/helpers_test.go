package probes

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// TestMain lets this test binary serve as the sleeper child: procStore re-executes it with
// TENANTCHECK_PROBE_CHILD=1, exactly as it re-executes tenantcheck in production.
func TestMain(m *testing.M) {
	if IsLambdaRuntime() {
		Main()
	}
	os.Exit(m.Run())
}

func withIsolatedGlobals() Option { return func(c *config) { c.isolated = true } }

func withExit(f func(int)) Option { return func(c *config) { c.exit = f } }

// roots is one temporary directory per file place, plus a fabricated /proc.
type roots struct {
	tmp, shm, varTmp, home, task, proc string
}

func newRoots(t testing.TB) roots {
	t.Helper()
	base := t.TempDir()
	r := roots{
		tmp: filepath.Join(base, "tmp"), shm: filepath.Join(base, "shm"),
		varTmp: filepath.Join(base, "var-tmp"), home: filepath.Join(base, "home"),
		task: filepath.Join(base, "task"), proc: filepath.Join(base, "proc"),
	}
	for _, d := range []string{r.tmp, r.shm, r.varTmp, r.home, r.task, r.proc} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r roots) options() []Option {
	return []Option{WithTmpDir(r.tmp), WithDevShmDir(r.shm), WithVarTmpDir(r.varTmp),
		WithHomeDir(r.home), WithTaskRoot(r.task), WithProcDir(r.proc)}
}

// newTestProbe makes a Probe over r whose careless globals and environment variables are its
// own, with the test binary as sleeper executable. Later options override r.
func newTestProbe(t testing.TB, r roots, extra ...Option) *Probe {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	clearCanaryEnv(t)
	opts := append(r.options(), WithChildExecutable(exe), WithLogStream("2025/11/25/[$LATEST]test"),
		withIsolatedGlobals(), WithPrivateKeyring())
	p := New(append(opts, extra...)...)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close probe: %v", err)
		}
		clearCanaryEnv(t)
	})
	return p
}

// clearCanaryEnv removes canary variables: os.Setenv is process-wide, so without this one
// test's env-var canaries would appear in the next test's cold start.
func clearCanaryEnv(t testing.TB) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix) {
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// lambdaCtx is what aws-lambda-go hands a handler, with a deadline.
func lambdaCtx(t testing.TB, tenant, requestID string, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID: requestID, TenantID: tenant,
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:probe",
	})
}

func mustHandle(t testing.TB, p *Probe, ev Event, requestID string) *Report {
	t.Helper()
	if ev.Schema == 0 {
		ev.Schema = SchemaVersion
	}
	rep, err := p.Handle(lambdaCtx(t, ev.Tenant, requestID, 10*time.Second), ev)
	if err != nil {
		t.Fatalf("Handle(seq %d): %v", ev.Seq, err)
	}
	return rep
}

// foundFor returns the findings of one run in one place; runs are unique per test, which keeps
// tests independent of anything else on the host that carries canaries (other test runs, a
// local target's environments) in shared places such as /proc.
func foundFor(rep *Report, runID string, place Place) []Found {
	var out []Found
	for _, f := range rep.Found {
		if f.Place == place && f.Canary.RunID == runID {
			out = append(out, f)
		}
	}
	return out
}

func plantedIn(rep *Report, place Place) []PlantResult {
	var out []PlantResult
	for _, pr := range rep.Planted {
		if pr.Place == place {
			out = append(out, pr)
		}
	}
	return out
}

var allPlaces = []Place{PlaceMemory, PlaceTmp, PlaceDevShm, PlaceVarTmp, PlaceHome, PlaceCodeDir,
	PlaceEnvVar, PlaceBackground, PlaceCredCache, PlaceProcess}

// canaryFiles lists canary files in dir.
func canaryFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, filePrefix+"*"+fileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ownProcView is a /proc for tests holding only this test process and its children, each a
// symlink to its real /proc entry, so the probe still reads real processes' environ and
// cmdline. Scanning the host's whole /proc is not deterministic: tests of other packages start
// probes and sleepers in parallel, whose hundreds of foreign canaries fill a report's
// maxFoundPerPlace before this run's own canaries are kept.
type ownProcView struct {
	t   testing.TB
	dir string
}

func newOwnProcView(t testing.TB) *ownProcView {
	t.Helper()
	v := &ownProcView{t: t, dir: filepath.Join(t.TempDir(), "proc")}
	if err := os.Mkdir(v.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	if err := os.Symlink(filepath.Join("/proc", self), filepath.Join(v.dir, "self")); err != nil {
		t.Fatal(err)
	}
	v.link(self) // the probe must skip its own process (it carries env-var canaries)
	return v
}

// refresh links every current child of this test process; call it before each Handle, so the
// view holds the sleeper the previous invocation started (and any it is still killing).
func (v *ownProcView) refresh() {
	v.t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		v.t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	for _, dir := range dirs {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // gone since the glob
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses, so cut at the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) > 1 && f[1] == self {
			v.link(filepath.Base(dir))
		}
	}
}

func (v *ownProcView) link(pid string) {
	v.t.Helper()
	err := os.Symlink(filepath.Join("/proc", pid), filepath.Join(v.dir, pid))
	if err != nil && !errors.Is(err, fs.ErrExist) {
		v.t.Fatal(err)
	}
}

// waitBackground waits (bounded) until p's background goroutine has recorded the canary with
// nonce: it records asynchronously, after its delay, and on a loaded host the goroutine can
// run long after any fixed pause.
func waitBackground(t testing.TB, p *Probe, nonce string) {
	t.Helper()
	var bg *backgroundStore
	for _, s := range p.stores {
		if b, ok := s.(*backgroundStore); ok {
			bg = b
		}
	}
	if bg == nil {
		t.Fatal("probe has no background store")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if slices.ContainsFunc(bg.ring.snapshot(), func(c Canary) bool { return c.Nonce == nonce }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background canary %s not recorded within 30s", nonce)
		}
	}
}
