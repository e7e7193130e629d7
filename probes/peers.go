package probes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// maxPeers bounds the doors one invocation knocks on: two are enough to show that a
	// Runtime API serves strangers, and every knock can cost up to peerBudget.
	maxPeers = 2
	// peerBudget is how long one knock may take, dial included. A Runtime API that lets the
	// request in but stays silent this long is holding a /next long-poll for us.
	peerBudget = 300 * time.Millisecond
	// maxPeerHeader bounds what is read from an answering peer: the status line and headers
	// only, never the body (which would be another tenant's event).
	maxPeerHeader = 8 << 10
	// maxPeerDetail bounds each quoted piece of what a peer sent.
	maxPeerDetail = 120
)

// nextRequest is a harmless Runtime API request any implementation answers at once (a GET on a
// response path of an invocation that does not exist). It is not /next on purpose: /next is a
// long poll, so an unguarded peer would hold it open and a guarded but busy one would look the
// same; an immediate answer is proof that a stranger's request was read, and steals nothing.
const nextRequest = "GET /2018-06-01/runtime/invocation/tenantcheck-knock/response HTTP/1.1\r\n" +
	"Host: %s\r\nUser-Agent: tenantcheck-probe\r\nConnection: close\r\n\r\n"

// WithRuntimeAPI replaces AWS_LAMBDA_RUNTIME_API, the probe's own Runtime API address, which
// it reports and never knocks on.
func WithRuntimeAPI(addr string) Option { return func(c *config) { c.runtimeAPI = addr } }

// knockPeers tries the first maxPeers usable addresses of peers at once, so an invocation
// spends at most one peerBudget on them. An address that is not a loopback IP:port is recorded
// as an error and never dialled: the probe only ever talks to its own host.
func knockPeers(ctx context.Context, own string, peers []string) []PeerAttempt {
	ownAP, _ := netip.ParseAddrPort(own)
	var out []PeerAttempt
	var todo []int
	seen := map[string]bool{}
	for _, addr := range peers {
		if len(todo) == maxPeers {
			break
		}
		ap, err := netip.ParseAddrPort(addr)
		switch {
		case err != nil:
			out = append(out, PeerAttempt{Addr: clip(addr), Outcome: PeerError, Detail: "not an IP:port, not tried"})
			continue
		case !ap.Addr().Unmap().IsLoopback():
			out = append(out, PeerAttempt{Addr: addr, Outcome: PeerError, Detail: "not a loopback address, not tried"})
			continue
		case unmap(ap) == unmap(ownAP), seen[unmap(ap).String()]:
			continue
		}
		seen[unmap(ap).String()] = true
		todo = append(todo, len(out))
		out = append(out, PeerAttempt{Addr: addr})
	}
	var wg sync.WaitGroup
	for _, i := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = knock(ctx, out[i].Addr, peerBudget)
		}()
	}
	wg.Wait()
	return out
}

func unmap(ap netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) }

// knock sends one /next request to addr and classifies what happens within budget.
func knock(ctx context.Context, addr string, budget time.Duration) PeerAttempt {
	a := PeerAttempt{Addr: addr}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return classify(a, "connect", err, false)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintf(conn, nextRequest, addr); err != nil {
		return classify(a, "send", err, false)
	}
	br := bufio.NewReader(io.LimitReader(conn, maxPeerHeader))
	status, err := br.ReadString('\n')
	if status == "" {
		return classify(a, "read", err, true)
	}
	// Any byte back means the peer's Runtime API served this environment. Keep the status
	// line and the request ID; the rest (the tenant header, the event) is none of our business.
	a.Outcome = PeerAnswered
	a.Detail = "status " + strconvQuote(strings.TrimRight(status, "\r\n"))
	if err == nil {
		if hdr, _ := textproto.NewReader(br).ReadMIMEHeader(); hdr != nil {
			if id := hdr.Get("Lambda-Runtime-Aws-Request-Id"); id != "" {
				a.Detail += ", request ID " + strconvQuote(id)
			}
		}
	}
	return a
}

// classify turns a failed step into an outcome. Only a read that timed out with the
// connection open is "held": a connect that timed out says nothing about the peer's policy.
func classify(a PeerAttempt, step string, err error, reading bool) PeerAttempt {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		a.Outcome, a.Detail = PeerRefused, "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		a.Outcome, a.Detail = PeerReset, "connection reset during "+step+", before any response byte"
	case errors.Is(err, io.EOF):
		a.Outcome, a.Detail = PeerClosed, "connection closed during "+step+", before any response byte"
	case reading && errors.As(err, &ne) && ne.Timeout():
		a.Outcome, a.Detail = PeerHeld, fmt.Sprintf("request accepted, no response within %s, connection still open", peerBudget)
	default:
		a.Outcome, a.Detail = PeerError, clip(step+": "+err.Error())
	}
	return a
}

// strconvQuote quotes s, clipped, so a hostile peer cannot fill a report or inject lines.
func strconvQuote(s string) string { return fmt.Sprintf("%q", clip(s)) }

func clip(s string) string {
	if len(s) > maxPeerDetail {
		return s[:maxPeerDetail] + "..."
	}
	return s
}
