package probes

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// peerBehaviour is what a fake peer Runtime API does with one connection.
type peerBehaviour func(c *net.TCPConn)

// fakePeer serves behave on 127.0.0.1 until the test ends and returns its address.
func fakePeer(t *testing.T, behave peerBehaviour) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				behave(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

// refusedAddr is a loopback port nothing listens on: bound, then closed.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func readRequest(c net.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err == nil {
		_ = req.Body.Close()
	}
}

const tenantSecret = "other-tenant-event-payload"

func TestKnockClassifiesPeers(t *testing.T) {
	tests := []struct {
		name        string
		addr        func(t *testing.T) string
		want        string
		detail      string
		notInReport []string
	}{
		{name: "refuse", addr: refusedAddr, want: PeerRefused},
		{
			// What the guard does: close before reading, with the request unread, so the
			// kernel resets the connection.
			name: "reset immediately",
			addr: func(t *testing.T) string {
				return fakePeer(t, func(c *net.TCPConn) { _ = c.SetLinger(0) })
			},
			want: PeerReset,
		},
		{
			name: "close after reading",
			addr: func(t *testing.T) string {
				return fakePeer(t, func(c *net.TCPConn) { readRequest(c); _ = c.CloseWrite() })
			},
			want: PeerClosed,
		},
		{
			name: "answer",
			addr: func(t *testing.T) string {
				return fakePeer(t, func(c *net.TCPConn) {
					readRequest(c)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-42\r\n"+
						"Lambda-Runtime-Aws-Tenant-Id: tenant-b\r\nContent-Length: 26\r\n\r\n"+tenantSecret)
				})
			},
			want:        PeerAnswered,
			detail:      `status "HTTP/1.1 200 OK", request ID "req-42"`,
			notInReport: []string{tenantSecret, "tenant-b"},
		},
		{
			name: "hold",
			addr: func(t *testing.T) string {
				return fakePeer(t, func(c *net.TCPConn) {
					readRequest(c)
					_, _ = io.Copy(io.Discard, c) // until the prober gives up and closes
				})
			},
			want: PeerHeld,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			got := knockPeers(context.Background(), "127.0.0.1:9001", []string{addr})
			if len(got) != 1 {
				t.Fatalf("got %d attempts, want 1: %+v", len(got), got)
			}
			a := got[0]
			if a.Addr != addr || a.Outcome != tt.want {
				t.Fatalf("attempt %+v, want addr %s outcome %s", a, addr, tt.want)
			}
			if tt.detail != "" && a.Detail != tt.detail {
				t.Errorf("detail %q, want %q", a.Detail, tt.detail)
			}
			for _, s := range tt.notInReport {
				if strings.Contains(a.Detail, s) {
					t.Errorf("detail %q carries %q from the peer's response", a.Detail, s)
				}
			}
		})
	}
}

func TestKnockPeersPicksAtMostTwoLoopbackOthers(t *testing.T) {
	own := refusedAddr(t)
	a, b, c := refusedAddr(t), refusedAddr(t), refusedAddr(t)
	got := knockPeers(context.Background(), own, []string{own, "10.0.0.1:9001", "localhost:9001", a, a, b, c})
	want := []PeerAttempt{
		{Addr: "10.0.0.1:9001", Outcome: PeerError, Detail: "not a loopback address, not tried"},
		{Addr: "localhost:9001", Outcome: PeerError, Detail: "not an IP:port, not tried"},
		{Addr: a, Outcome: PeerRefused, Detail: "connection refused"},
		{Addr: b, Outcome: PeerRefused, Detail: "connection refused"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHandleReportsRuntimeAPIAndPeerAttempts(t *testing.T) {
	own := "127.0.0.1:9001"
	p := newTestProbe(t, newRoots(t), WithRuntimeAPI(own))
	peer := fakePeer(t, func(c *net.TCPConn) { _ = c.SetLinger(0) })

	rep, err := p.Handle(context.Background(), Event{Schema: SchemaVersion, RunID: "r", Tenant: "a", Seq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RuntimeAPI != own || rep.PeerAttempts != nil {
		t.Fatalf("without peers: runtimeApi %q attempts %+v, want %q and none", rep.RuntimeAPI, rep.PeerAttempts, own)
	}
	rep, err = p.Handle(context.Background(), Event{Schema: SchemaVersion, RunID: "r", Tenant: "a", Seq: 2,
		RuntimeAPIPeers: []string{own, peer}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.PeerAttempts) != 1 || rep.PeerAttempts[0].Addr != peer || rep.PeerAttempts[0].Outcome != PeerReset {
		t.Fatalf("attempts %+v, want one reset at %s", rep.PeerAttempts, peer)
	}
}
