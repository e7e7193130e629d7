package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
)

// maxReportBytes bounds a posted report. A report is a few KB; 6 MiB matches Lambda's own
// synchronous payload limit, so a probe that can return a report can always post it.
const maxReportBytes = 6 << 20

// ReportSink receives the reports of Event (async) invocations, which have no response body.
// The probe POSTs its report to /report/<runID>; the runner waits for it by (runID, seq).
// It listens on loopback only, which is why async reports work against local targets and not
// against AWS.
type ReportSink struct {
	ln  net.Listener
	srv *http.Server

	mu      sync.Mutex
	entries arrivals
}

// NewReportSink starts the sink on 127.0.0.1 with an ephemeral port.
func NewReportSink() (*ReportSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("report sink: listen: %w", err)
	}
	s := &ReportSink{ln: ln, entries: newArrivals()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /report/{runID}", s.handle)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close
	return s, nil
}

// URL is the base URL; a report for run r goes to URL()+"/report/"+r.
func (s *ReportSink) URL() string { return "http://" + s.ln.Addr().String() }

// ReportURL is where the probe of run runID posts its reports.
func (s *ReportSink) ReportURL(runID string) string { return s.URL() + "/report/" + runID }

func (s *ReportSink) handle(w http.ResponseWriter, r *http.Request) {
	runID := r.PathValue("runID")
	var rep probes.Report
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReportBytes))
	if err := dec.Decode(&rep); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "decode report: "+err.Error(), status)
		return
	}
	if rep.RunID != runID {
		http.Error(w, fmt.Sprintf("report runId %q does not match path %q", rep.RunID, runID), http.StatusBadRequest)
		return
	}
	token := rep.ReportToken
	rep.ReportToken = ""
	s.mu.Lock()
	d := s.entries.record(sinkKey{runID, rep.Seq}, token, &rep, nil)
	s.mu.Unlock()
	if d == deliveredForged {
		// Not the token this invocation was given: say nothing that helps a guesser.
		http.Error(w, "report refused", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Wait returns the report of (runID, seq), waiting up to timeout for it to arrive; false means
// it did not arrive in time.
func (s *ReportSink) Wait(runID string, seq int64, timeout time.Duration) (*probes.Report, bool) {
	rep, err := s.wait(context.Background(), runID, seq, timeout)
	return rep, err == nil
}

func (s *ReportSink) wait(ctx context.Context, runID string, seq int64, timeout time.Duration) (*probes.Report, error) {
	s.mu.Lock()
	e := s.entries.entry(sinkKey{runID, seq})
	s.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.arrived:
		s.mu.Lock()
		defer s.mu.Unlock()
		return e.rep, nil
	case <-t.C:
		return nil, fmt.Errorf("no report within %v", timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// retries waits until every invocation of want (seq -> number of retries expected) has had that
// many repeat reports, or until timeout, and returns the repeats that arrived.
func (s *ReportSink) retries(ctx context.Context, runID string, want map[int64]int, timeout time.Duration) map[int64][]*probes.Report {
	seqs := make([]int64, 0, len(want))
	for seq := range want {
		seqs = append(seqs, seq)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		got, next := s.entries.repeatsOf(runID, seqs)
		s.mu.Unlock()
		done := true
		for seq, n := range want {
			done = done && len(got[seq]) >= n
		}
		if done {
			return got
		}
		select {
		case <-next:
		case <-t.C:
			return got
		case <-ctx.Done():
			return got
		}
	}
}

// Expect registers the token invocation (runID, seq) was given; only a report that carries
// it is taken. An invocation never registered takes only reports without a token.
func (s *ReportSink) Expect(runID string, seq int64, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries.expect(sinkKey{runID, seq}, token)
}

// Dropped counts reports refused because they did not carry their invocation's token: a
// function posting for an invocation it was not given.
func (s *ReportSink) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries.dropped
}

// Duplicates counts reports received more than once for the same invocation (Lambda's own
// async retries), which a check may want to explain extra environments.
func (s *ReportSink) Duplicates(runID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries.duplicates(runID)
}

// Close stops the server; reports posted afterwards are refused by the closed listener.
func (s *ReportSink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("report sink: shutdown: %w", err)
	}
	return nil
}
