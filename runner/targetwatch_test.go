package runner

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestTargetWatch drives the watch with real calls: to a listening server (an answer, even a
// 500, proves the target is there) and to a closed port (refused). Gone comes once, only after
// the given number of refusals in a row.
func TestTargetWatch(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer up.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	_ = l.Close()

	for _, tc := range []struct {
		name  string
		calls []string // "up" or "down", in order
		gone  int      // times Gone is called
	}{
		{"answers only", []string{"up", "up", "up", "up"}, 0},
		{"fewer refusals than the limit", []string{"down", "down"}, 0},
		{"an answer resets the count", []string{"down", "down", "up", "down", "down"}, 0},
		{"refusals in a row", []string{"down", "down", "down"}, 1},
		{"said once", []string{"down", "down", "down", "down", "down", "up", "down", "down", "down"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []error
			w := &TargetWatch{Calls: 3, Gone: func(err error) {
				mu.Lock()
				got = append(got, err)
				mu.Unlock()
			}}
			c := w.Wrap(&http.Client{})
			for _, which := range tc.calls {
				url := up.URL
				if which == "down" {
					url = down
				}
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if resp, err := c.Do(req); err == nil {
					_ = resp.Body.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != tc.gone {
				t.Fatalf("Gone called %d times (%v), want %d", len(got), got, tc.gone)
			}
			for _, err := range got {
				if !errors.Is(err, ErrTargetGone) {
					t.Errorf("Gone's error %v does not wrap ErrTargetGone", err)
				}
			}
		})
	}
}
