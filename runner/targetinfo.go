package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// IsolationPath is where the built-in target (and any emulator that adopts it) declares what it
// can isolate on its host. A target that does not serve it declares nothing.
const IsolationPath = "/_tenantcheck/v1/isolation"

// FetchIsolation asks a target for its self-declared isolation level. A target that does not
// answer (404, AWS) yields (nil, nil): silence is not a declaration.
func FetchIsolation(ctx context.Context, endpoint string) (*Isolation, error) {
	if endpoint == "" || !IsLoopback(endpoint) {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+IsolationPath, nil)
	if err != nil {
		return nil, fmt.Errorf("isolation request for %s: %w", endpoint, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s for its isolation level: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ask %s for its isolation level: HTTP %d", endpoint, resp.StatusCode)
	}
	var iso Isolation
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&iso); err != nil {
		return nil, fmt.Errorf("decode isolation level from %s: %w", endpoint, err)
	}
	return &iso, nil
}

// IsLoopback reports whether an endpoint URL names this host, which is when a probe inside the
// target can reach a report sink the runner listens on.
func IsLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
