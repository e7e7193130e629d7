package suites

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

// load reads a hand-made run from testdata. Each call returns a fresh copy, so tests may mutate it.
func load(t *testing.T, name string) *runner.Observations {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var obs runner.Observations
	if err := json.Unmarshal(b, &obs); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	return &obs
}

// eachReport applies fn to every probe report of the run.
func eachReport(obs *runner.Observations, fn func(r *probes.Report)) {
	for i := range obs.Items {
		if obs.Items[i].Report != nil {
			fn(obs.Items[i].Report)
		}
	}
}

// allCold makes every report a cold start: a run in which no environment was ever reused.
func allCold(obs *runner.Observations) {
	eachReport(obs, func(r *probes.Report) { r.Cold = true; r.Invocations = 1 })
}

// addFailures appends n invocations that produced no report, throttled or not.
func addFailures(obs *runner.Observations, n int, throttled bool) {
	for i := 0; i < n; i++ {
		o := runner.Observation{
			Seq: int64(100 + i), Schedule: "burst", Tenant: "tenant-a",
			Err: "operation error Lambda: Invoke, exceeded maximum number of attempts", Retries: 3,
		}
		if throttled {
			o.StatusCode, o.Throttled = 429, true
			o.Err = "TooManyRequestsException: Rate Exceeded"
		}
		obs.Items = append(obs.Items, o)
	}
}

// declareMissing makes the target declare the places it cannot isolate.
func declareMissing(obs *runner.Observations, places ...probes.Place) {
	if obs.Target.Isolation == nil {
		obs.Target.Isolation = &runner.Isolation{Level: "process"}
	}
	if obs.Target.Isolation.Missing == nil {
		obs.Target.Isolation.Missing = map[probes.Place]string{}
	}
	for _, p := range places {
		obs.Target.Isolation.Missing[p] = "no mount namespace on this host"
	}
}

var allPlaces = []probes.Place{
	probes.PlaceMemory, probes.PlaceTmp, probes.PlaceDevShm, probes.PlaceVarTmp, probes.PlaceHome,
	probes.PlaceCodeDir, probes.PlaceEnvVar, probes.PlaceBackground, probes.PlaceCredCache, probes.PlaceProcess,
}

// checkByID finds a registered check; tests fail loudly if an ID is ever renamed.
func checkByID(t *testing.T, id string) Check {
	t.Helper()
	for _, c := range All() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return Check{}
}

// statuses evaluates every check and returns status by ID.
func statuses(t *testing.T, obs *runner.Observations) map[string]reports.CheckResult {
	t.Helper()
	out := map[string]reports.CheckResult{}
	// The canary and tenancy checks only: TI-RAPI-001 shares the area but judges what these
	// fixtures do not carry (runtimeapi_test.go covers it).
	for _, r := range Evaluate(isolationChecks(), obs) {
		out[r.ID] = r
	}
	return out
}
