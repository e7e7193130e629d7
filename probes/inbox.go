package probes

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// inboxMagic starts every deposit, so an inbox never mistakes stray bytes for a canary.
	inboxMagic = "TCINBOX1 "
	// inboxUnixPrefix names the probe's abstract unix sockets; a deposit goes to no other.
	inboxUnixPrefix = "@tenantcheck-inbox-"
	// maxDeposit bounds one message read from an inbox.
	maxDeposit = 8 << 10
	// maxInboxPeers bounds the inboxes one invocation deposits into, as for Runtime API knocks.
	maxInboxPeers = 2
	// depositBudget bounds one deposit, dial included.
	depositBudget = 200 * time.Millisecond
)

// inboxStore is PlaceNetwork: the environment keeps a TCP listener, a UDP socket and an abstract
// unix socket open for its whole life, and drains them at every invocation, without waiting.
// Draining synchronously (no goroutine reads them) means an environment frozen while idle still
// finds, at its next invocation, whatever another environment left there meanwhile.
type inboxStore struct {
	mu      sync.Mutex
	opened  bool
	openErr string
	tcp     *net.TCPListener
	udp     *net.UDPConn
	unixLn  *net.UnixListener
	addr    Inbox
	ring    *ring // canaries drained so far, newest last
	buf     []byte
}

func (s *inboxStore) place() Place { return PlaceNetwork }

// open makes the three sockets on first use. A socket the environment cannot open is left out
// and said in openErr; the others still work.
func (s *inboxStore) open(envID string) {
	if s.opened {
		return
	}
	s.opened = true
	var errs []string
	if ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
		s.tcp, s.addr.TCP = ln, ln.Addr().String()
	} else {
		errs = append(errs, "tcp: "+err.Error())
	}
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
		s.udp, s.addr.UDP = c, c.LocalAddr().String()
	} else {
		errs = append(errs, "udp: "+err.Error())
	}
	name := inboxUnixPrefix + envID
	if ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"}); err == nil {
		s.unixLn, s.addr.Unix = ln, name
	} else {
		errs = append(errs, "unix: "+err.Error())
	}
	s.openErr = strings.Join(errs, "; ")
}

// address is the inbox to report, nil when no socket could be opened.
func (s *inboxStore) address(envID string) *Inbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open(envID)
	if s.addr == (Inbox{}) {
		return nil
	}
	a := s.addr
	return &a
}

func (s *inboxStore) scan(sc *scanState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		return // nothing can have arrived before the sockets existed
	}
	s.drain()
	for _, c := range s.ring.snapshot() {
		sc.add(c, PlaceNetwork, "inbox")
	}
}

// plant reports whether the inbox is open: the canary itself travels by deposit (Handle).
func (s *inboxStore) plant(c Canary, _ *Event) PlantResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open(c.EnvID)
	if s.addr == (Inbox{}) {
		return PlantResult{Error: "no inbox socket could be opened: " + s.openErr}
	}
	return PlantResult{Planted: true, Where: fmt.Sprintf("inbox tcp %s udp %s unix %s", s.addr.TCP, s.addr.UDP, s.addr.Unix)}
}

// drain reads every pending connection and datagram without blocking. Callers hold s.mu.
func (s *inboxStore) drain() {
	if cap(s.buf) < maxDeposit {
		s.buf = make([]byte, maxDeposit)
	}
	var listeners []syscall.RawConn
	if s.tcp != nil {
		if rc, err := s.tcp.SyscallConn(); err == nil {
			listeners = append(listeners, rc)
		}
	}
	if s.unixLn != nil {
		if rc, err := s.unixLn.SyscallConn(); err == nil {
			listeners = append(listeners, rc)
		}
	}
	for _, rc := range listeners {
		_ = rc.Read(func(fd uintptr) bool {
			for {
				nfd, _, err := unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
				if err != nil {
					return true // EAGAIN: nothing more pending
				}
				s.keep(readAll(nfd, s.buf))
				_ = unix.Close(nfd)
			}
		})
	}
	if s.udp != nil {
		if rc, err := s.udp.SyscallConn(); err == nil {
			_ = rc.Read(func(fd uintptr) bool {
				for {
					n, _, err := unix.Recvfrom(int(fd), s.buf, unix.MSG_DONTWAIT)
					if err != nil {
						return true
					}
					s.keep(s.buf[:n])
				}
			})
		}
	}
}

// readAll reads what a deposit left on an accepted connection, without blocking.
func readAll(fd int, buf []byte) []byte {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	return buf[:n]
}

// keep records the canary in msg, if msg is a deposit.
func (s *inboxStore) keep(msg []byte) {
	rest, ok := strings.CutPrefix(string(msg), inboxMagic)
	if !ok {
		return
	}
	var c Canary
	if json.Unmarshal([]byte(strings.TrimSpace(rest)), &c) != nil || c.Nonce == "" {
		return
	}
	s.ring.add(c)
}

// deposit puts c into the sockets of at most maxInboxPeers of peers, at once, so an invocation
// spends at most one depositBudget on them. Only loopback addresses and the probe's own abstract
// socket names are ever contacted, and nothing but the deposit is sent.
func deposit(ctx context.Context, c Canary, peers []Inbox) []Deposit {
	msg, err := json.Marshal(c)
	if err != nil {
		return []Deposit{{Kind: "encode", Detail: err.Error()}}
	}
	msg = append([]byte(inboxMagic), msg...)
	var out []Deposit
	for _, p := range peers[:min(len(peers), maxInboxPeers)] {
		for _, d := range []Deposit{{Kind: "tcp", Addr: p.TCP}, {Kind: "udp", Addr: p.UDP}, {Kind: "unix", Addr: p.Unix}} {
			if d.Addr != "" {
				out = append(out, d)
			}
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = depositOne(ctx, out[i], msg)
		}()
	}
	wg.Wait()
	return out
}

func depositOne(ctx context.Context, d Deposit, msg []byte) Deposit {
	switch d.Kind {
	case "tcp", "udp":
		ap, err := netip.ParseAddrPort(d.Addr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			d.Detail = "not a loopback IP:port, not tried"
			return d
		}
	case "unix":
		if !strings.HasPrefix(d.Addr, inboxUnixPrefix) {
			d.Detail = "not a tenantcheck inbox name, not tried"
			return d
		}
	}
	dctx, cancel := context.WithTimeout(ctx, depositBudget)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, d.Kind, d.Addr)
	if err != nil {
		d.Detail = clip(err.Error())
		return d
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(depositBudget))
	if _, err := conn.Write(msg); err != nil {
		d.Detail = clip(err.Error())
		return d
	}
	d.Delivered = true
	return d
}
