package runner

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/tenantcheck/tenantcheck/internal/golden"
)

// TestPlanGolden pins the steps a seed produces, so a change that would make an old
// `--seed` replay a different interleaving shows up as a diff instead of passing silently.
func TestPlanGolden(t *testing.T) {
	opts := Options{Invocations: 40, Concurrency: 4, Seed: 42}
	phases, err := Plan(opts, testTenants(2))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, ph := range phases {
		line, err := json.Marshal(ph)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	golden.Assert(t, filepath.Join("testdata", "plan-seed42.golden"), buf.Bytes())
}
