package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Forwarder makes a loopback address of this machine reachable from inside the target's
// execution environments. A target that gives each environment a network namespace of its own
// (the built-in one) reaches nothing on the host unless told to: the runner forwards its async
// report sink, and the s3 area its S3 endpoint, for as long as they are needed.
type Forwarder interface {
	// Forward makes addr (127.0.0.1:PORT) reachable; undo withdraws it.
	Forward(ctx context.Context, addr string) (undo func(), err error)
}

// EndpointForwarder registers forwards with a target at POST /_tenantcheck/v1/forwards, the
// built-in target's extension of the Lambda API. A target that does not know the route (404)
// shares the host's network, so it needs no forward: that is not an error.
type EndpointForwarder struct {
	Endpoint string
	Client   *http.Client
}

// Forward implements Forwarder.
func (f EndpointForwarder) Forward(ctx context.Context, addr string) (func(), error) {
	known, err := f.call(ctx, http.MethodPost, addr)
	if err != nil {
		return nil, fmt.Errorf("forward %s into the target's environments: %w", addr, err)
	}
	if !known {
		return func() {}, nil
	}
	return func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = f.call(cctx, http.MethodDelete, addr) // the target drops it on stop anyway
	}, nil
}

// call sends one forward request; known is false when the target does not serve the route.
func (f EndpointForwarder) call(ctx context.Context, method, addr string) (known bool, err error) {
	body, err := json.Marshal(map[string]string{"address": addr})
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(f.Endpoint, "/")+"/_tenantcheck/v1/forwards", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := f.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed ||
		resp.StatusCode == http.StatusNotImplemented || bytes.Contains(msg, []byte("UnknownOperation")):
		// Another emulator that does not know the route, in whatever shape it refuses it.
		return false, nil
	case resp.StatusCode/100 != 2:
		return false, fmt.Errorf("%s %s: %s", method, resp.Status, bytes.TrimSpace(msg))
	}
	return true, nil
}

// forwarderFor is the Forwarder a run uses when none was given: the target's own endpoint when
// inv reaches it through a Lambda client pointed at this machine's loopback (the built-in target
// and other local endpoints), so a library caller's report sink is reachable from environments
// with a network of their own without being asked; nil otherwise.
func forwarderFor(inv Invoker) Forwarder {
	for {
		switch x := inv.(type) {
		case *retrying:
			inv = x.inv
		case *LambdaInvoker:
			return clientForwarder(x.Client)
		default:
			return nil
		}
	}
}

// clientForwarder is forwarderFor for a Lambda client.
func clientForwarder(c *lambda.Client) Forwarder {
	if c == nil {
		return nil
	}
	if ep := c.Options().BaseEndpoint; ep != nil && IsLoopback(*ep) {
		return EndpointForwarder{Endpoint: *ep}
	}
	return nil
}

// forwardEndpoints forwards each loopback endpoint URL into the target's environments.
func forwardEndpoints(ctx context.Context, fwd Forwarder, endpoints ...string) (func(), error) {
	var undos []func()
	undo := func() {
		for _, u := range undos {
			u()
		}
	}
	if fwd == nil {
		return undo, nil
	}
	seen := map[string]bool{}
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if e == "" || err != nil || seen[u.Host] || !IsLoopback(e) {
			continue
		}
		seen[u.Host] = true
		host := u.Host
		if u.Hostname() == "localhost" {
			host = "127.0.0.1:" + u.Port()
		}
		w, err := fwd.Forward(ctx, host)
		if err != nil {
			undo()
			return nil, err
		}
		undos = append(undos, w)
	}
	return undo, nil
}
