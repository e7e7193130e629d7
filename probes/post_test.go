package probes

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCheckReportURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/reports/1", true},
		{"http://localhost:9/x", true},
		{"http://127.0.0.1/", true},
		{"https://127.0.0.1/", false},
		{"http://10.0.0.1/", false},
		{"http://127.0.0.1.example.com/", false},
		{"http://user:pw@127.0.0.1/", false},
		{"http://[::1]/", false},
		{"file:///etc/passwd", false},
		{"127.0.0.1:80", false},
	}
	for _, tt := range tests {
		if err := checkReportURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("checkReportURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestReportPostedToReportURL(t *testing.T) {
	tests := []struct {
		name      string
		failFirst int // requests answered 500 before the server accepts
		wantHits  int32
		wantErr   string
	}{
		{name: "delivered", wantHits: 1},
		{name: "retried once", failFirst: 1, wantHits: 2},
		{name: "gives up after the retry", failFirst: 5, wantHits: 2, wantErr: "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			posted := make(chan []byte, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := hits.Add(1)
				body, _ := io.ReadAll(r.Body)
				if int(n) <= tt.failFirst || r.Header.Get("Content-Type") != "application/json" {
					http.Error(w, "not now", http.StatusInternalServerError)
					return
				}
				posted <- body
			}))
			t.Cleanup(srv.Close)
			p := newTestProbe(t, newRoots(t))
			rep := mustHandle(t, p, Event{RunID: randomHex(), Tenant: "a", Seq: 1, ReportURL: srv.URL + "/report"}, "r1")
			if hits.Load() != tt.wantHits || !strings.Contains(rep.PostError, tt.wantErr) || (tt.wantErr == "") != (rep.PostError == "") {
				t.Fatalf("hits=%d PostError=%q, want %d and error containing %q", hits.Load(), rep.PostError, tt.wantHits, tt.wantErr)
			}
			if tt.wantErr != "" {
				return
			}
			want, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			if got := <-posted; string(got) != string(want) {
				t.Errorf("posted report differs from returned one:\n got %s\nwant %s", got, want)
			}
		})
	}
}
