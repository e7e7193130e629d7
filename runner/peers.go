package runner

import (
	"cmp"
	"math/rand/v2"
	"slices"
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
	seed int64

	mu      sync.Mutex
	tenants map[string][]string // address -> tenants whose environments reported it, first-seen order
	order   []string            // addresses, first-seen order
	heard   map[string]uint64   // address -> tick of the last report that gave it
	tick    uint64
}

func newPeerBook(seed int64) *peerBook {
	return &peerBook{seed: seed, tenants: map[string][]string{}, heard: map[string]uint64{}}
}

// learn records the address a report's environment gave for itself; nil reports are ignored.
func (b *peerBook) learn(tenant string, rep *probes.Report) {
	if rep == nil || rep.RuntimeAPI == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ts, ok := b.tenants[rep.RuntimeAPI]
	if !ok {
		b.order = append(b.order, rep.RuntimeAPI)
	}
	if !slices.Contains(ts, tenant) {
		b.tenants[rep.RuntimeAPI] = append(ts, tenant)
	}
	b.tick++
	b.heard[rep.RuntimeAPI] = b.tick
}

// pick returns the addresses invocation seq of tenant should knock on: for one sync invocation
// in peerEvery, up to maxPeerAddrs of the peerFresh addresses of other tenants' environments
// heard from most recently. The choice depends only on the seed, seq, tenant and the reports
// learned so far, in order, so the same reports give the same choice.
func (b *peerBook) pick(seq int64, tenant string, async bool) []string {
	if async {
		return nil // the runner cannot tell when an Event invocation runs, so who is idle
	}
	rng := rand.New(rand.NewPCG(uint64(b.seed)^peerStream, uint64(seq)))
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
