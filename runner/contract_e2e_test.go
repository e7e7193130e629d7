package runner_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator"
	"github.com/tenantcheck/tenantcheck/fixtures/emulator/sandbox"
	"github.com/tenantcheck/tenantcheck/fixtures/probefn"
	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/runner"
)

// TestMain lets this test binary be the probe it deploys and the sandbox init of the built-in
// target's environments, exactly as the tenantcheck binary is.
func TestMain(m *testing.M) {
	sandbox.MaybeRunInit()
	if probes.IsLambdaRuntime() {
		probes.Main()
		return
	}
	os.Exit(m.Run())
}

// selfZip packages a plain (not race-instrumented) build of the probe, once per test binary:
// environments of the race-built test binary itself are several times heavier and slower.
var selfZip = func() func(t testing.TB) []byte {
	var (
		once sync.Once
		zip  []byte
		err  error
	)
	return func(t testing.TB) []byte {
		t.Helper()
		once.Do(func() {
			dir, derr := os.MkdirTemp("", "tenantcheck-runner-probe-")
			if derr != nil {
				err = derr
				return
			}
			defer os.RemoveAll(dir)
			bin := filepath.Join(dir, "bootstrap")
			build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/tenantcheck/tenantcheck/probes/testdata/probe")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, berr := build.CombinedOutput(); berr != nil {
				err = fmt.Errorf("build probe: %w\n%s", berr, out)
				return
			}
			zip, err = probefn.ZipExecutable(bin)
		})
		if err != nil {
			t.Fatalf("package the probe: %v", err)
		}
		return zip
	}
}()

// pingPong deploys the probe on c and runs a short, error-free ping-pong schedule between two
// tenants: the common first half of the end-to-end tests that judge one area.
func pingPong(t *testing.T, ctx context.Context, c *lambda.Client, seed int64) *runner.Observations {
	t.Helper()
	d, err := probefn.Deploy(ctx, c, probefn.Spec{Function: probes.Function{Zip: selfZip(t), Timeout: 5 * time.Second, PerTenant: true}})
	if err != nil {
		t.Fatalf("deploy probe: %v", err)
	}
	obs, err := runner.Run(ctx, runner.Retrying(&runner.LambdaInvoker{Client: c}, runner.RetryPolicy{}), runner.Options{
		Function: d.Name, Tenants: 2, Invocations: 24, Schedules: []string{runner.SchedulePingPong},
		Seed: seed, ErrorRate: -1, MaxTimeouts: -1,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return obs
}

// builtin starts the built-in target with cfg and returns a client for it.
func builtin(t testing.TB, cfg emulator.Config) (*emulator.Server, *lambda.Client) {
	t.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start built-in target: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close built-in target: %v", err)
		}
	})
	c, err := runner.NewLambdaClient(context.Background(), srv.Endpoint(), "", runner.ClientOptions{})
	if err != nil {
		t.Fatalf("lambda client: %v", err)
	}
	return srv, c
}

// contractOpts is a small, fast phase: a low cap keeps the cap probe to a dozen processes.
func contractOpts(t testing.TB, cap int) runner.ContractOptions {
	return runner.ContractOptions{
		Zip:             selfZip(t),
		Seed:            7,
		ReportSink:      true,
		CapProbe:        cap,
		CapExtra:        3,
		Hold:            1500 * time.Millisecond,
		NewTenants:      3,
		FunctionTimeout: 10 * time.Second,
	}
}

const testCap = 6

func runContract(t *testing.T, faults ...string) *runner.ContractObservations {
	t.Helper()
	_, c := builtin(t, emulator.Config{MaxEnvironments: testCap, Faults: faults, FaultRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	co, err := runner.RunContract(ctx, c, contractOpts(t, testCap))
	if err != nil {
		t.Fatalf("RunContract: %v", err)
	}
	assertNothingLeft(t, c)
	return co
}

// assertNothingLeft fails the test for every function still on the target and says whether
// there was one.
func assertNothingLeft(t *testing.T, c *lambda.Client) bool {
	t.Helper()
	out, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatalf("ListFunctions after the phase: %v", err)
	}
	for _, f := range out.Functions {
		t.Errorf("function %s left behind", *f.FunctionName)
	}
	return len(out.Functions) > 0
}

func calls(cs []runner.ContractCall) string {
	s := ""
	for _, c := range cs {
		s += fmt.Sprintf("\n  %s %s tenant=%q status=%d code=%s err=%s", c.Op, c.Case, c.Tenant, c.StatusCode, c.ErrorCode, c.Err)
	}
	return s
}
