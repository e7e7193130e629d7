package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

const (
	postTimeout  = 3 * time.Second
	postAttempts = 2
	postBackoff  = 50 * time.Millisecond
)

// checkReportURL accepts only plain-HTTP loopback URLs: the runner listens on the target's own
// host, and a probe that posted wherever an event said could be turned into a request forwarder.
func checkReportURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("reportUrl: %w", err)
	}
	if u.Scheme != "http" || u.User != nil || u.Opaque != "" {
		return fmt.Errorf("reportUrl %q: only http://127.0.0.1 or http://localhost URLs are accepted", raw)
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost":
		return nil
	}
	return fmt.Errorf("reportUrl %q: host %q is not 127.0.0.1 or localhost", raw, u.Hostname())
}

// newLoopbackClient never uses a proxy: the report must reach the loopback listener itself.
func newLoopbackClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &http.Client{Transport: tr}
}

// post delivers rep to rawURL: each attempt gets postTimeout, a failed one is retried once. It
// does not use the invocation's context, whose deadline belongs to the handler and may already
// have been chosen short by the runner.
func (p *Probe) post(rawURL string, rep *Report) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	var last error
	for attempt := range postAttempts {
		if attempt > 0 {
			time.Sleep(postBackoff)
		}
		if last = p.postOnce(rawURL, body); last == nil {
			return nil
		}
	}
	return fmt.Errorf("post report to %s (%d attempts): %w", rawURL, postAttempts, last)
}

func (p *Probe) postOnce(rawURL string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
