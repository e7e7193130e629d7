package runner

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

func postReport(t *testing.T, url string, body []byte) int {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func reportJSON(t *testing.T, runID string, seq int64, env string) []byte {
	t.Helper()
	return tokenReport(t, runID, seq, env, "")
}

func TestReportSink(t *testing.T) {
	s, err := NewReportSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("sink not on loopback: %s", s.URL())
	}

	// A waiter registered before the report arrives is woken by it.
	got := make(chan *probes.Report, 1)
	go func() {
		rep, _ := s.Wait("run1", 2, 5*time.Second)
		got <- rep
	}()
	tests := []struct {
		name string
		url  string
		body []byte
		want int
	}{
		{"report", s.ReportURL("run1"), reportJSON(t, "run1", 1, "env-a"), http.StatusNoContent},
		{"awaited report", s.ReportURL("run1"), reportJSON(t, "run1", 2, "env-b"), http.StatusNoContent},
		{"duplicate keeps first", s.ReportURL("run1"), reportJSON(t, "run1", 1, "env-z"), http.StatusNoContent},
		{"run mismatch", s.ReportURL("run1"), reportJSON(t, "run2", 3, "env-c"), http.StatusBadRequest},
		{"not json", s.ReportURL("run1"), []byte("{"), http.StatusBadRequest},
		{"too large", s.ReportURL("run1"), append([]byte(`{"envId":"`), bytes.Repeat([]byte("x"), maxReportBytes)...), http.StatusRequestEntityTooLarge},
		{"wrong path", s.URL() + "/other", reportJSON(t, "run1", 4, "env-d"), http.StatusNotFound},
	}
	for _, tt := range tests {
		if code := postReport(t, tt.url, tt.body); code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
	}
	if rep := <-got; rep == nil || rep.EnvID != "env-b" {
		t.Errorf("awaited report %+v", rep)
	}
	if rep, ok := s.Wait("run1", 1, time.Second); !ok || rep.EnvID != "env-a" {
		t.Errorf("report 1: %+v %v, want first of the duplicates", rep, ok)
	}
	if n := s.Duplicates("run1"); n != 1 {
		t.Errorf("duplicates %d, want 1", n)
	}
	if rep, ok := s.Wait("run2", 3, 10*time.Millisecond); ok || rep != nil {
		t.Errorf("mismatched report was stored: %+v", rep)
	}
	resp, err := http.Get(s.ReportURL("run1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
}

func tokenReport(t *testing.T, runID string, seq int64, env, token string) []byte {
	t.Helper()
	b, err := json.Marshal(probes.Report{Schema: probes.SchemaVersion, RunID: runID, Seq: seq, EnvID: env, ReportToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportSinkTokens: an attacker inside the target posts reports for invocations it was not
// given (no token, a wrong one, a guess at a future invocation); the sink refuses them, counts
// them, and still takes the genuine report and its retries.
func TestReportSinkTokens(t *testing.T) {
	s, err := NewReportSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := s.ReportURL("run")
	s.Expect("run", 1, "secret-1")
	s.Expect("run", 2, "secret-2")
	steps := []struct {
		name string
		body []byte
		want int
	}{
		{"no token", tokenReport(t, "run", 1, "forged", ""), http.StatusForbidden},
		{"another invocation's token", tokenReport(t, "run", 1, "forged", "secret-2"), http.StatusForbidden},
		{"token for an invocation never handed one", tokenReport(t, "run", 4, "forged", "guess"), http.StatusForbidden},
		{"tokenless guess at a future invocation", tokenReport(t, "run", 3, "forged", ""), http.StatusNoContent},
		{"genuine", tokenReport(t, "run", 1, "env-a", "secret-1"), http.StatusNoContent},
		{"genuine retry", tokenReport(t, "run", 1, "env-a2", "secret-1"), http.StatusNoContent},
		{"forged after genuine", tokenReport(t, "run", 1, "forged", "x"), http.StatusForbidden},
	}
	for _, st := range steps {
		if code := postReport(t, url, st.body); code != st.want {
			t.Errorf("%s: status %d, want %d", st.name, code, st.want)
		}
	}
	// Invocation 3 is handed its token only now: the guess that came first must not answer it.
	s.Expect("run", 3, "secret-3")
	if rep, ok := s.Wait("run", 3, 10*time.Millisecond); ok {
		t.Errorf("a report posted before its invocation was given a token answered it: %+v", rep)
	}
	if code := postReport(t, url, tokenReport(t, "run", 3, "env-c", "secret-3")); code != http.StatusNoContent {
		t.Errorf("genuine report 3: status %d", code)
	}
	for seq, env := range map[int64]string{1: "env-a", 3: "env-c"} {
		rep, ok := s.Wait("run", seq, 5*time.Second)
		if !ok || rep.EnvID != env || rep.ReportToken != "" {
			t.Errorf("seq %d: %+v %v, want %s with its token cleared", seq, rep, ok, env)
		}
	}
	if got := s.Dropped(); got != 5 {
		t.Errorf("dropped %d, want 5 (no token, wrong token, never handed, forged after genuine, early guess)", got)
	}
	if got := s.Duplicates("run"); got != 1 {
		t.Errorf("duplicates %d, want 1 (the genuine retry)", got)
	}
}

func TestNewProgressQuietOffTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []interface{ Write([]byte) (int, error) }{f, &bytes.Buffer{}} {
		p := NewProgress(w)
		if _, ok := p.(nopProgress); !ok {
			t.Errorf("%T: got %T, want the silent progress", w, p)
		}
		p.Start(3)
		p.Tick()
		p.Done()
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("wrote %d bytes to a non-terminal", st.Size())
	}
	// The bar itself, driven directly, must draw and survive concurrent ticks.
	var buf bytes.Buffer
	bar := &barProgress{w: &buf}
	bar.Start(4)
	done := make(chan struct{})
	for range 4 {
		go func() { bar.Tick(); done <- struct{}{} }()
	}
	for range 4 {
		<-done
	}
	bar.Done()
	if buf.Len() == 0 {
		t.Error("progress bar drew nothing")
	}
}

// TestReportSinkRetries: repeat deliveries of an invocation (the target's retries) are kept in
// order, and a wait for them ends when the expected number arrived, or at its timeout with what
// came.
func TestReportSinkRetries(t *testing.T) {
	s, err := NewReportSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	postReport(t, s.ReportURL("r"), reportJSON(t, "r", 1, "env-a"))
	got := make(chan map[int64][]*probes.Report, 1)
	go func() { got <- s.retries(t.Context(), "r", map[int64]int{1: 2}, time.Minute) }()
	postReport(t, s.ReportURL("r"), reportJSON(t, "r", 1, "env-b"))
	postReport(t, s.ReportURL("r"), reportJSON(t, "r", 1, "env-c"))
	r := <-got // returns on the second retry, long before the minute
	if len(r[1]) != 2 || r[1][0].EnvID != "env-b" || r[1][1].EnvID != "env-c" {
		t.Fatalf("retries %+v, want env-b then env-c", r[1])
	}
	if rep, ok := s.Wait("r", 1, time.Second); !ok || rep.EnvID != "env-a" {
		t.Errorf("first report %+v, want env-a", rep)
	}
	if r := s.retries(t.Context(), "r", map[int64]int{2: 1}, time.Millisecond); len(r) != 0 {
		t.Errorf("retries of an invocation that had none: %+v", r)
	}
}
