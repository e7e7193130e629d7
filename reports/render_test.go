package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/tenantcheck/tenantcheck/internal/golden"
)

// sampleReport has one check of every status, evidence with hostile bytes, and fixed times, so
// the golden files are deterministic. Checks are deliberately out of order.
func sampleReport() *Report {
	checks := []CheckResult{
		{ID: "TI-TMP-001", Area: "isolation", Title: "No /tmp canary crosses a tenant line", Level: Must, Clause: "ENV-03",
			Severity: "critical", Status: Pass, Reason: "0 leaks in 600 invocations, 412 warm, 590 opportunities, 600 canaries planted",
			Duration: 2 * time.Millisecond},
		{ID: "TI-MEM-001", Area: "isolation", Title: "No memory canary crosses a tenant line", Level: Must, Clause: "ENV-02",
			Severity: "critical", Status: Fail, Reason: "2 leaks (1 distinct canary) across tenants in 600 invocations, 412 warm, 590 opportunities",
			Remediation: "Never hand an execution environment to another tenant.",
			Evidence: []Evidence{
				{Message: `tenant "ACME" found a memory canary planted by tenant "acme" at var canaries`, Fields: map[string]string{
					"place": "memory", "where": "var canaries", "nonce": "000000000000000000000000000000c1",
					"plantedTenant": "acme", "plantedContextTenant": "acme", "plantedRequestId": "req-1", "plantedEnvId": "env-1",
					"plantedSeq": "1", "foundTenant": "ACME", "foundRequestId": "req-2", "foundEnvId": "env-1", "foundSeq": "2",
				}},
				{Message: "tenant \"evil\x1b[2J\" found a memory canary planted by tenant \"acme\"\x00", Fields: map[string]string{
					"foundTenant": "evil\x1b[2J", "where": "a b=c",
				}},
			},
			Duration: 2 * time.Millisecond},
		{ID: "TI-FS-002", Area: "isolation", Title: "The code directory is read-only", Level: Should, Clause: "ENV-10",
			Severity: "medium", Status: Warn, Reason: "code directory writable in 1 of 2 environments",
			Remediation: "Mount the function code read-only.",
			Evidence:    []Evidence{{Message: "environment env-1 could write into the code directory", Fields: map[string]string{"envId": "env-1"}}},
			Duration:    time.Millisecond},
		{ID: "TI-PROC-001", Area: "isolation", Title: "No other process shows another tenant's canaries", Level: Must, Clause: "ENV-06",
			Severity: "critical", Status: Skip, Reason: "target cannot isolate this here: process: no pid namespace"},
		{ID: "TI-REUSE-001", Area: "isolation", Title: "Warm reuse within a tenant is observed (positive control)", Level: Must,
			Clause: "ENV-07", Severity: "info", Status: Inconclusive, Reason: "no warm reuse observed: reuse is allowed, not required",
			Duration: 100 * time.Microsecond},
		{ID: "TI-CTX-001", Area: "isolation", Title: "The handler sees exactly the tenant it was invoked for", Level: Must,
			Clause: "RT-02", Severity: "high", Status: Error, Reason: "412 of 600 invocations failed (400 throttled after retries): cannot judge",
			Duration: 300 * time.Microsecond},
	}
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          "tenantcheck",
		ToolVersion:   "v0.1.0-test",
		RunID:         "run-fixed",
		Seed:          42,
		Replay:        "tenantcheck run --seed 42 --target local",
		Target:        "local (http://127.0.0.1:9001)",
		Function:      "tenantcheck-probe",
		Started:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Elapsed:       12*time.Second + 345*time.Millisecond,
		Power: Power{Invocations: 600, Opportunities: 590, WarmReuses: 412,
			DetectP1pct: DetectProbability(590, 0.01), DetectP01pct: DetectProbability(590, 0.001)},
		Checks: checks,
	}
	r.Summary = Summarize(checks)
	return r
}

func TestGolden(t *testing.T) {
	for _, format := range FormatNames() {
		t.Run(format, func(t *testing.T) {
			r := sampleReport()
			var buf bytes.Buffer
			if err := Write(format, &buf, r); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", "report."+format+".golden"), buf.Bytes())
			if r.Checks[0].ID != "TI-TMP-001" {
				t.Error("renderer reordered the caller's checks")
			}
			// The same report must render identically twice (no map-order or time dependence).
			var again bytes.Buffer
			if err := Write(format, &again, sampleReport()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("two renderings differ")
			}
		})
	}
}

func TestTableIsTerminalSafe(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x00") {
		t.Error("control characters from the target reached the terminal")
	}
	for _, want := range []string{"verdict FAIL (exit 1)", "seed 42", "replay: tenantcheck run --seed 42", "590 opportunities",
		"P(detect 1% recycle)=99.7%", `tenant "evil\x1b[2J" found a memory canary`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := sampleReport()
	if err := WriteJSON(&buf, in); err != nil {
		t.Fatal(err)
	}
	var out Report
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.SchemaVersion != SchemaVersion || out.Seed != 42 || len(out.Checks) != len(in.Checks) || out.Summary.ExitCode != 1 {
		t.Fatalf("round trip lost data: %+v", out)
	}
	for i := 1; i < len(out.Checks); i++ {
		if out.Checks[i-1].ID > out.Checks[i].ID {
			t.Errorf("checks not sorted: %s before %s", out.Checks[i-1].ID, out.Checks[i].ID)
		}
	}
	var mem CheckResult
	for _, c := range out.Checks {
		if c.ID == "TI-MEM-001" {
			mem = c
		}
	}
	if len(mem.Evidence) != 2 || mem.Evidence[1].Fields["foundTenant"] != "evil\x1b[2J" {
		t.Error("JSON must carry evidence bytes exactly (it is data, not display)")
	}
}

func TestJUnitParsesBack(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var doc junit.Testsuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit output is not valid XML: %v", err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "tenantcheck" || s.Tests != 6 || s.Failures != 1 || s.Errors != 2 || s.Skipped != 1 {
		t.Errorf("suite totals: %+v", s)
	}
	props := map[string]string{}
	for _, p := range *s.Properties {
		props[p.Name] = p.Value
	}
	if props["seed"] != "42" || props["runId"] != "run-fixed" || props["target"] != "local (http://127.0.0.1:9001)" {
		t.Errorf("properties %v", props)
	}
	byName := map[string]junit.Testcase{}
	for i, tc := range s.Testcases {
		byName[tc.Name] = tc
		if i > 0 && s.Testcases[i-1].Name > tc.Name {
			t.Errorf("testcases not sorted: %q before %q", s.Testcases[i-1].Name, tc.Name)
		}
		if tc.Classname != "isolation" {
			t.Errorf("%s: classname %q", tc.Name, tc.Classname)
		}
	}
	fail := byName["TI-MEM-001 No memory canary crosses a tenant line"]
	if fail.Failure == nil || !strings.HasPrefix(fail.Failure.Message, "2 leaks") || !strings.Contains(fail.Failure.Data, "nonce=000000000000000000000000000000c1") {
		t.Errorf("failure testcase %+v", fail)
	}
	if tc := byName["TI-CTX-001 The handler sees exactly the tenant it was invoked for"]; tc.Error == nil || tc.Error.Type != "ERROR" {
		t.Errorf("error testcase %+v", tc)
	}
	if tc := byName["TI-REUSE-001 Warm reuse within a tenant is observed (positive control)"]; tc.Error == nil || tc.Error.Type != "INCONCLUSIVE" {
		t.Errorf("inconclusive testcase %+v", tc)
	}
	if tc := byName["TI-PROC-001 No other process shows another tenant's canaries"]; tc.Skipped == nil || !strings.Contains(tc.Skipped.Message, "no pid namespace") {
		t.Errorf("skipped testcase %+v", tc)
	}
	warn := byName["TI-FS-002 The code directory is read-only"]
	if warn.Failure != nil || warn.Error != nil || warn.Skipped != nil || warn.SystemOut == nil || !strings.HasPrefix(warn.SystemOut.Data, "WARN (SHOULD ENV-10)") {
		t.Errorf("warn testcase %+v", warn)
	}
	if tc := byName["TI-TMP-001 No /tmp canary crosses a tenant line"]; tc.Failure != nil || tc.Error != nil || tc.Skipped != nil || tc.Time != "0.002" {
		t.Errorf("pass testcase %+v", tc)
	}
}

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	err := Write("sarif", &buf, sampleReport())
	if err == nil || !strings.Contains(err.Error(), `unknown report format "sarif": want one of table, json, junit`) {
		t.Errorf("unknown format error %v", err)
	}
	if buf.Len() != 0 {
		t.Error("output written for an unknown format")
	}
	for _, f := range FormatNames() {
		if err := Write(f, &buf, nil); err == nil {
			t.Errorf("%s: nil report accepted", f)
		}
		if err := Write(f, failingWriter{}, sampleReport()); err == nil {
			t.Errorf("%s: write error swallowed", f)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// TestJSONClauses: "clauses" lists every clause a check cites, primary first, and is never null,
// even for a result built without it.
func TestJSONClauses(t *testing.T) {
	tests := []struct {
		name string
		in   CheckResult
		want string
	}{
		{"several", CheckResult{ID: "TI-API-005", Clause: "INV-02", Clauses: []string{"INV-02", "INV-08"}}, `["INV-02","INV-08"]`},
		{"primary only", CheckResult{ID: "TI-MEM-001", Clause: "ENV-02"}, `["ENV-02"]`},
		{"none", CheckResult{ID: "TI-X-001"}, `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Checks: []CheckResult{tc.in}}
			var buf bytes.Buffer
			if err := WriteJSON(&buf, r); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Checks []struct {
					Clauses json.RawMessage `json:"clauses"`
				} `json:"checks"`
			}
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, got.Checks[0].Clauses); err != nil {
				t.Fatal(err)
			}
			if compact.String() != tc.want {
				t.Errorf("clauses = %s, want %s", compact.String(), tc.want)
			}
			if tc.in.Clauses == nil && r.Checks[0].Clauses != nil {
				t.Error("WriteJSON filled clauses in the caller's report")
			}
		})
	}
}
