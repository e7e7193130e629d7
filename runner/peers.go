package runner

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/tenantcheck/tenantcheck/probes"
)

const (
	// peerEvery: one sync invocation in peerEvery, chosen by the seed, asks its probe to knock on
	// other tenants' Runtime APIs. Knocking costs up to 100 ms, and a few hundred knocks per run
	// show an open door as surely as thousands.
	peerEvery = 4
	// maxPeerAddrs matches the probe's own bound (probes: at most 2 per invocation).
	maxPeerAddrs = 2
	// peerStream separates the peer choice's random stream from the schedules' ones.
	peerStream = 0x7275_6e74_696d_6561 // "runtimea"
	// peerFresh: the choice is made among the addresses heard from most recently. Environments
	// are recycled, and a knock on a gone environment's old address is refused without saying
	// anything about the guard (TI-RAPI-001 counts only knocks on environments shown alive).
	peerFresh = 8
)

// peerBook remembers which tenant's environment reported which Runtime API address, so the
// runner can offer one tenant's probe the addresses of other tenants' environments.
//
// Addresses only mean something when they tell environments apart: on AWS every environment
// reports 127.0.0.1:9001 from its own VM, and knocking on "another" 127.0.0.1:9001 is knocking
// on one's own door. So nothing is offered until at least two distinct addresses were seen.
type peerBook struct {
	seed   int64
	stream uint64
	// addrOf is the address a report gives for its environment ("" for none).
	addrOf func(*probes.Report) string

	mu      sync.Mutex
	tenants map[string][]string // address -> tenants whose environments reported it, first-seen order
	order   []string            // addresses, first-seen order
	heard   map[string]uint64   // address -> tick of the last report that gave it
	tick    uint64
}

func newPeerBook(seed int64) *peerBook {
	return &peerBook{seed: seed, stream: peerStream, addrOf: func(r *probes.Report) string { return r.RuntimeAPI },
		tenants: map[string][]string{}, heard: map[string]uint64{}}
}

// inboxStream separates the inbox choice's random stream from the Runtime API one.
const inboxStream = 0x696e_626f_7865_7321 // "inboxes!"

// newInboxBook is a peerBook of environments' network inboxes (TI-NET-001): the same choice of
// other tenants' recently heard environments, keyed by inboxKey.
func newInboxBook(seed int64) *peerBook {
	return &peerBook{seed: seed, stream: inboxStream, addrOf: func(r *probes.Report) string { return inboxKey(r.Inbox) },
		tenants: map[string][]string{}, heard: map[string]uint64{}}
}

// inboxKey and inboxOf turn an inbox into one address string and back.
func inboxKey(in *probes.Inbox) string {
	if in == nil || *in == (probes.Inbox{}) {
		return ""
	}
	return in.TCP + "|" + in.UDP + "|" + in.Unix
}

func inboxOf(key string) probes.Inbox {
	parts := strings.SplitN(key, "|", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return probes.Inbox{TCP: parts[0], UDP: parts[1], Unix: parts[2]}
}

// pickInboxes is pick for an inbox book.
func (b *peerBook) pickInboxes(seq int64, tenant string, async bool) []probes.Inbox {
	keys := b.pick(seq, tenant, async)
	if len(keys) == 0 {
		return nil
	}
	out := make([]probes.Inbox, len(keys))
	for i, k := range keys {
		out[i] = inboxOf(k)
	}
	return out
}

// learn records the address a report's environment gave for itself; nil reports are ignored.
func (b *peerBook) learn(tenant string, rep *probes.Report) {
	if rep == nil {
		return
	}
	addr := b.addrOf(rep)
	if addr == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ts, ok := b.tenants[addr]
	if !ok {
		b.order = append(b.order, addr)
	}
	if !slices.Contains(ts, tenant) {
		b.tenants[addr] = append(ts, tenant)
	}
	b.tick++
	b.heard[addr] = b.tick
}

// pick returns the addresses invocation seq of tenant should knock on: for one sync invocation
// in peerEvery, up to maxPeerAddrs of the peerFresh addresses of other tenants' environments
// heard from most recently. The choice depends only on the seed, seq, tenant and the reports
// learned so far, in order, so the same reports give the same choice.
func (b *peerBook) pick(seq int64, tenant string, async bool) []string {
	if async {
		return nil // the runner cannot tell when an Event invocation runs, so who is idle
	}
	rng := rand.New(rand.NewPCG(uint64(b.seed)^b.stream, uint64(seq)))
	if rng.IntN(peerEvery) != 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.order) < 2 {
		return nil
	}
	var others []string
	for _, addr := range b.order {
		for _, t := range b.tenants[addr] {
			if t != tenant {
				others = append(others, addr)
				break
			}
		}
	}
	slices.SortFunc(others, func(x, y string) int { return cmp.Compare(b.heard[y], b.heard[x]) })
	others = others[:min(len(others), peerFresh)]
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	return others[:min(len(others), maxPeerAddrs)]
}
