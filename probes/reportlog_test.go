package probes

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/fixtures/emulator/cwlogs"
	"github.com/tenantcheck/tenantcheck/internal/golden"
)

// goldenReport is a small, fixed report.
func goldenReport() *Report {
	c := Canary{Nonce: "0123456789abcdef0123456789abcdef", RunID: "0a1b2c3d4e5f6071", Tenant: "tenant-a",
		ContextTenant: "tenant-a", EnvID: "fedcba9876543210fedcba9876543210", RequestID: "req-1", Seq: 1, Place: PlaceTmp}
	return &Report{
		Schema: SchemaVersion, EnvID: "00112233445566778899aabbccddeeff", PID: 7,
		StartedAt: time.Date(2025, 11, 25, 17, 0, 0, 0, time.UTC), LogStream: "2025/11/25/[$LATEST]abc",
		Invocations: 2, RequestID: "req-2", ContextTenant: "tenant-b", RunID: "0a1b2c3d4e5f6071", Tenant: "tenant-b", Seq: 2,
		Found:   []Found{{Canary: c, Place: PlaceTmp, Where: "/tmp/tenantcheck-canary-<&>.json"}},
		Planted: []PlantResult{{Place: PlaceTmp, Planted: true, Nonce: "aa", Where: "/tmp/x"}},
	}
}

// bigReport has n foreign canaries in /tmp with where paths of whereLen bytes.
func bigReport(n, whereLen int) *Report {
	rep := goldenReport()
	rep.Found = nil
	for i := range n {
		c := Canary{Nonce: randomHex(), RunID: rep.RunID, Tenant: "tenant-a", ContextTenant: "tenant-a",
			EnvID: randomHex(), RequestID: randomHex(), Seq: int64(i), Place: PlaceTmp}
		rep.Found = append(rep.Found, Found{Canary: c, Place: PlaceTmp, Where: strings.Repeat("w", whereLen)})
	}
	return rep
}

// TestReportLogLineGolden pins the two line shapes the runner's filter pattern selects.
func TestReportLogLineGolden(t *testing.T) {
	ok, _, err := ReportLogLine(goldenReport())
	if err != nil {
		t.Fatal(err)
	}
	tooBig := goldenReport()
	tooBig.PeerAttempts = []PeerAttempt{{Addr: "127.0.0.1:9001", Outcome: PeerError, Detail: strings.Repeat("d", MaxReportLogLine)}}
	bad, _, err := ReportLogLine(tooBig)
	if err == nil {
		t.Fatal("a report with a 200 KB detail fits a line")
	}
	got := append(append([]byte(nil), ok...), bad...)
	golden.Assert(t, filepath.Join("testdata", "reportlog.golden.jsonl"), got)
}

func TestReportLogLine(t *testing.T) {
	huge := goldenReport()
	huge.PeerAttempts = []PeerAttempt{{Addr: "127.0.0.1:9001", Outcome: PeerError, Detail: strings.Repeat("d", 300<<10)}}
	tests := []struct {
		name        string
		rep         *Report
		wantTrimmed bool
		wantErr     bool
	}{
		{name: "small", rep: goldenReport()},
		{name: "just under the limit", rep: bigReport(1, MaxReportLogLine-2000)},
		// 1,500 canaries of ~500 bytes: ~750 KB, cut to the log budget with foreign ones kept.
		{name: "too many canaries", rep: bigReport(1500, 200), wantTrimmed: true},
		{name: "too big whatever is cut", rep: huge, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.rep)
			line, trimmed, err := ReportLogLine(tt.rep)
			if after, _ := json.Marshal(tt.rep); !bytes.Equal(before, after) {
				t.Error("ReportLogLine changed the report it was given")
			}
			if (err != nil) != tt.wantErr || trimmed != tt.wantTrimmed {
				t.Fatalf("trimmed %v, err %v; want trimmed %v, error %v", trimmed, err, tt.wantTrimmed, tt.wantErr)
			}
			if len(line) > MaxReportLogLine || bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("line of %d bytes with %d newlines, want one line within %d bytes", len(line), bytes.Count(line, []byte("\n")), MaxReportLogLine)
			}
			if !json.Valid(line) {
				t.Fatalf("line is not JSON: %.200s", line)
			}
			rep, logErr, ok := ParseReportLog(string(line))
			if !ok {
				t.Fatalf("ParseReportLog does not recognise the line %.200s", line)
			}
			if tt.wantErr {
				if logErr == nil || logErr.RunID != tt.rep.RunID || logErr.Seq != tt.rep.Seq || logErr.Bytes <= MaxReportLogLine {
					t.Fatalf("error line %+v does not echo the invocation and its size", logErr)
				}
				return
			}
			if rep == nil || rep.RunID != tt.rep.RunID || rep.Seq != tt.rep.Seq || rep.Tenant != tt.rep.Tenant {
				t.Fatalf("parsed report %+v does not echo the invocation", rep)
			}
			if rep.Truncated != tt.wantTrimmed || (!tt.wantTrimmed && len(rep.Found) != len(tt.rep.Found)) {
				t.Errorf("parsed report: truncated %v with %d of %d canaries", rep.Truncated, len(rep.Found), len(tt.rep.Found))
			}
			if tt.wantTrimmed && len(rep.Found) == 0 {
				t.Error("a cut report kept no canary at all")
			}
		})
	}
}

// TestReportLogPatternSelectsLines checks the runner's filter pattern against the lines as
// CloudWatch stores them (with and without the newline) with the built-in target's parser.
func TestReportLogPatternSelectsLines(t *testing.T) {
	ok, _, _ := ReportLogLine(goldenReport())
	huge := goldenReport()
	huge.PeerAttempts = []PeerAttempt{{Detail: strings.Repeat("d", MaxReportLogLine)}}
	bad, _, _ := ReportLogLine(huge)
	run := goldenReport().RunID
	tests := []struct {
		name, runID, msg string
		want             bool
	}{
		{"report", run, string(ok), true},
		{"report without newline", run, strings.TrimSuffix(string(ok), "\n"), true},
		{"error line", run, string(bad), true},
		{"other run", "ffffffffffffffff", string(ok), false},
		{"probe's own log line", run, `{"level":"INFO","msg":"` + LogMessage + `","runId":"` + run + `","seq":2}`, false},
		{"EMF line", run, string(EMFLine(time.Now(), "tenant-b", "req-2", run, 2)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := cwlogs.ParsePattern(ReportLogPattern(tt.runID))
			if err != nil {
				t.Fatalf("pattern %q: %v", ReportLogPattern(tt.runID), err)
			}
			if got := p.Match(tt.msg); got != tt.want {
				t.Errorf("%s matches %.120q = %v, want %v", p, tt.msg, got, tt.want)
			}
		})
	}
}

func TestParseReportLogRejects(t *testing.T) {
	for _, msg := range []string{
		"", "START RequestId: x", `{"tenantcheckReport":`, `{"tenantcheckReport":{"seq":"x"}}`,
		`{"tenantcheckReport":{},"tenantcheckReportError":{}}`, `{"tenantcheckReportX":{}}`, `["tenantcheckReport"]`,
	} {
		if rep, logErr, ok := ParseReportLog(msg); ok {
			t.Errorf("ParseReportLog(%q) = %v, %v, true", msg, rep, logErr)
		}
	}
	for _, msg := range []string{
		"", "START RequestId: x", `{"tenantcheckReport":`, `{"tenantcheckReport":{},"tenantcheckReportError":{}}`,
		`{"tenantcheckReportX":{}}`, `["tenantcheckReport"]`, `{"message":"tenantcheckReport"}`,
	} {
		if IsReportLogLine(msg) {
			t.Errorf("IsReportLogLine(%q) = true", msg)
		}
	}
}

// TestParseReportLogToleratesAddedKeys: a log pipeline may add keys beside the probe's one
// (Lambda's JSON logging can attach the tenant ID, a timestamp, a level); the line is still the
// probe's report, and still recognised as one.
func TestParseReportLogToleratesAddedKeys(t *testing.T) {
	tests := []struct {
		name, msg string
		wantSeq   int64
		wantError bool
	}{
		{name: "report", msg: `{"timestamp":"2026-11-25T22:00:00Z","level":"INFO","tenantId":"blue","tenantcheckReport":{"runId":"r1","seq":7}}`, wantSeq: 7},
		{name: "error line", msg: `{"tenantcheckReportError":{"runId":"r1","seq":9,"error":"too big"},"requestId":"x"}`, wantSeq: 9, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, logErr, ok := ParseReportLog(tt.msg)
			switch {
			case !ok:
				t.Fatalf("not taken as a report line")
			case tt.wantError && (logErr == nil || logErr.Seq != tt.wantSeq):
				t.Errorf("error line %+v, want seq %d", logErr, tt.wantSeq)
			case !tt.wantError && (rep == nil || rep.Seq != tt.wantSeq || rep.RunID != "r1"):
				t.Errorf("report %+v, want run r1 seq %d", rep, tt.wantSeq)
			}
			if !IsReportLogLine(tt.msg) {
				t.Error("IsReportLogLine = false")
			}
		})
	}
}

// writeRecorder keeps every Write call apart, so a test can see whether a line was split.
type writeRecorder struct {
	mu     sync.Mutex
	writes [][]byte
	fail   error
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func withReportOut(w *writeRecorder) Option { return func(c *config) { c.reportOut = w } }

// TestHandleLogsReport: with ReportLog set, each concurrent invocation writes its report as
// exactly one Write of exactly one line, equal to the report it returns.
func TestHandleLogsReport(t *testing.T) {
	out := &writeRecorder{}
	p := newTestProbe(t, newRoots(t), withReportOut(out))
	runID := randomHex()
	const n = 8
	reps := make([]*Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			reps[i] = mustHandle(t, p, Event{RunID: runID, Tenant: "a", Seq: int64(i + 1), ReportLog: true}, randomHex())
		})
	}
	wg.Wait()
	if len(out.writes) != n {
		t.Fatalf("%d writes for %d invocations", len(out.writes), n)
	}
	bySeq := map[int64]string{}
	for _, w := range out.writes {
		if bytes.Count(w, []byte("\n")) != 1 || w[len(w)-1] != '\n' {
			t.Fatalf("a write is not exactly one line: %.200q", w)
		}
		rep, _, ok := ParseReportLog(string(w))
		if !ok || rep == nil {
			t.Fatalf("a write is not a report line: %.200q", w)
		}
		bySeq[rep.Seq] = string(w)
	}
	for _, rep := range reps {
		if rep.PostError != "" {
			t.Errorf("seq %d: PostError %q", rep.Seq, rep.PostError)
		}
		want, _, _ := ReportLogLine(rep)
		if bySeq[rep.Seq] != string(want) {
			t.Errorf("seq %d: logged line differs from the returned report", rep.Seq)
		}
	}
}

func TestHandleReportLogFailures(t *testing.T) {
	tests := []struct {
		name    string
		fail    error
		wantErr string
	}{
		{name: "write fails", fail: errors.New("stdout closed"), wantErr: "stdout closed"},
		{name: "not asked", wantErr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &writeRecorder{fail: tt.fail}
			p := newTestProbe(t, newRoots(t), withReportOut(out))
			rep := mustHandle(t, p, Event{RunID: randomHex(), Tenant: "a", Seq: 1, ReportLog: tt.fail != nil}, "r1")
			if !strings.Contains(rep.PostError, tt.wantErr) || (tt.wantErr == "") != (rep.PostError == "") {
				t.Errorf("PostError %q, want one containing %q", rep.PostError, tt.wantErr)
			}
			if tt.fail == nil && len(out.writes) != 0 {
				t.Errorf("%d report lines written without ReportLog", len(out.writes))
			}
		})
	}
}

// TestLogReportTooBig: a report that cannot fit is replaced by its error line, and the error
// reaches the caller (Handle puts it in the returned copy's PostError).
func TestLogReportTooBig(t *testing.T) {
	out := &writeRecorder{}
	p := newTestProbe(t, newRoots(t), withReportOut(out))
	rep := goldenReport()
	rep.S3 = []S3Attempt{{Op: S3GetObject, Error: strings.Repeat("e", MaxReportLogLine)}}
	err := p.logReport(rep)
	if err == nil || !strings.Contains(err.Error(), "over the") {
		t.Fatalf("logReport of an oversized report: %v", err)
	}
	if len(out.writes) != 1 {
		t.Fatalf("%d writes, want the one error line", len(out.writes))
	}
	if _, logErr, ok := ParseReportLog(string(out.writes[0])); !ok || logErr == nil || logErr.Seq != rep.Seq {
		t.Errorf("written line is not the error line of seq %d: %.200q", rep.Seq, out.writes[0])
	}
}

func BenchmarkReportLogLine(b *testing.B) {
	rep := bigReport(40, 60)
	for b.Loop() {
		if _, _, err := ReportLogLine(rep); err != nil {
			b.Fatal(err)
		}
	}
}
