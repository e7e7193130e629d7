package runner

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

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
	path := filepath.Join("testdata", "plan-seed42.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("plan for seed 42 changed; if intended, run go test ./runner -run TestPlanGolden -update\ngot:\n%s", buf.Bytes())
	}
}
