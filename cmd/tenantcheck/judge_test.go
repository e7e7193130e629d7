package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/reports"
)

// withoutTiming drops the report's timing fields, the only ones `judge` may not reproduce.
func withoutTiming(t *testing.T, path string) []byte {
	t.Helper()
	r := readReport(t, path)
	r.Started, r.Elapsed = time.Time{}, 0
	for i := range r.Checks {
		r.Checks[i].Duration = 0
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJudgeReproducesRunReport saves a run's observations and judges them offline: the JSON
// report must be the run's, apart from timing, and a file cut short by a run that broke half-way
// must be judged without a single PASS in the area it cut.
func TestJudgeReproducesRunReport(t *testing.T) {
	dir := t.TempDir()
	obsPath, runJSON, judgeJSON := filepath.Join(dir, "obs.jsonl"), filepath.Join(dir, "run.json"), filepath.Join(dir, "judge.json")
	code, out, errOut := execute(t, quickRun("--skip", "s3", "--observations", obsPath, "--format", "json", "--out", runJSON)...)
	if code != ExitOK {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = execute(t, "judge", obsPath, "--format", "json", "--out", judgeJSON)
	if code != ExitOK {
		t.Fatalf("judge: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "verdict PASS") {
		t.Errorf("judge printed no table with the verdict:\n%s", out)
	}
	if a, b := withoutTiming(t, runJSON), withoutTiming(t, judgeJSON); !bytes.Equal(a, b) {
		t.Errorf("judge's report differs from run's beyond timing:\nrun:\n%s\njudge:\n%s", a, b)
	}

	// Judged again with a narrower selection: only those checks are judged, the rest SKIP.
	code, _, errOut = execute(t, "judge", obsPath, "--checks", "TI-MEM-001", "--format", "json", "--out", judgeJSON)
	if code != ExitOK {
		t.Fatalf("judge --checks: exit %d: %s", code, errOut)
	}
	for id, c := range statuses(readReport(t, judgeJSON)) {
		if want := id == "TI-MEM-001"; (c.Status == reports.Pass) != want {
			t.Errorf("judge --checks TI-MEM-001: %s is %s", id, c.Status)
		}
	}

	// The record of a run that broke half-way: the first half of its lines, the last one cut.
	whole, err := os.ReadFile(obsPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(whole, []byte("\n"))
	half := bytes.Join(lines[:len(lines)/2], nil)
	half = append(half, lines[len(lines)/2][:len(lines[len(lines)/2])/2]...)
	cut := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(cut, half, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = execute(t, "judge", cut, "--format", "json", "--out", judgeJSON)
	if code != ExitIncomplete || !strings.Contains(errOut, "incomplete") {
		t.Errorf("judge of a cut record: exit %d, want 2 and a word that it is incomplete; stderr: %s", code, errOut)
	}
	for id, c := range statuses(readReport(t, judgeJSON)) {
		if c.Status == reports.Pass {
			t.Errorf("judge of a cut record: %s PASSed (%s)", id, c.Reason)
		}
	}
}

func TestJudgeRefusesWhatIsNotARecord(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.jsonl"), "no such file"},
		{"empty file", write("empty.jsonl", ""), "empty"},
		{"a report, not a record", write("report.json", `{"schemaVersion":"1.0","checks":[]}`+"\n"), "not a tenantcheck observations file"},
		{"another version", write("v9.jsonl", `{"kind":"header","version":9,"run":{"tool":"tenantcheck"}}`+"\n"), "version 9"},
		{"damaged middle line", write("bad.jsonl", `{"kind":"header","version":1,"run":{"tool":"tenantcheck"}}`+"\n{oops\n"+`{"kind":"end","end":{}}`+"\n"), "line 2"},
		{"no isolation run", write("bare.jsonl", `{"kind":"header","version":1,"run":{"tool":"tenantcheck"}}`+"\n"), "no isolation run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := execute(t, "judge", tc.path)
			if code != ExitIncomplete || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

// TestRunCutShortStillReports stops every schedule at once (a phase timeout shorter than any
// invocation): the run still writes its report and its record, no isolation check PASSes, the
// exit code is 2, and judging the record gives the same verdict.
func TestRunCutShortStillReports(t *testing.T) {
	dir := t.TempDir()
	obsPath, runJSON := filepath.Join(dir, "obs.jsonl"), filepath.Join(dir, "run.json")
	code, _, errOut := execute(t, quickRun("--checks", "isolation", "--phase-timeout", "1ns", "--observations", obsPath, "--format", "json", "--out", runJSON)...)
	if code != ExitIncomplete || !strings.Contains(errOut, "phase timeout") {
		t.Fatalf("exit %d, want 2 and the phase timeout named; stderr:\n%s", code, errOut)
	}
	r := readReport(t, runJSON)
	for id, c := range statuses(r) {
		if c.Status == reports.Pass {
			t.Errorf("%s PASSed a run that never ran a schedule: %s", id, c.Reason)
		}
		if c.Area == "isolation" && c.Status == reports.Inconclusive && !strings.Contains(c.Reason, "phase timeout") {
			t.Errorf("%s: reason %q does not say the run was cut short", id, c.Reason)
		}
	}
	code, _, errOut = execute(t, "judge", obsPath)
	if code != ExitIncomplete {
		t.Errorf("judge of the cut run: exit %d, want 2; stderr: %s", code, errOut)
	}
}

func TestGatewayAddrFor(t *testing.T) {
	for _, tc := range []struct {
		addr, flag, want, err string
	}{
		{"127.0.0.1:9300", "", "127.0.0.1:9301", ""},
		{"127.0.0.1:0", "", "127.0.0.1:0", ""},
		{"127.0.0.1:9300", "127.0.0.1:8080", "127.0.0.1:8080", ""},
		{"127.0.0.1:65535", "", "", "give --gateway-addr"},
		{"nonsense", "", "", "--addr"},
	} {
		got, err := gatewayAddrFor(tc.addr, tc.flag)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("gatewayAddrFor(%q, %q) = %q, %v; want %q, error with %q", tc.addr, tc.flag, got, err, tc.want, tc.err)
		}
	}
}
