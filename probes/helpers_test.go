package probes

import (
	"context"
	"os"
	"path/filepath"
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
		withIsolatedGlobals())
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
