package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
)

func TestPeerBookPick(t *testing.T) {
	rep := func(addr string) *probes.Report { return &probes.Report{RuntimeAPI: addr} }
	tests := []struct {
		name  string
		learn map[string][]string // tenant -> addresses its environments reported
		// allowed are the addresses tenant "a" may be offered; nil means none at all.
		allowed []string
	}{
		{name: "nothing learned"},
		{name: "one tenant only", learn: map[string][]string{"a": {"127.0.0.1:1001", "127.0.0.1:1002"}}},
		{
			name:  "every environment reports the same address (AWS)",
			learn: map[string][]string{"a": {"127.0.0.1:9001"}, "b": {"127.0.0.1:9001"}, "c": {"127.0.0.1:9001"}},
		},
		{
			name:    "distinct addresses",
			learn:   map[string][]string{"a": {"127.0.0.1:1001"}, "b": {"127.0.0.1:2001", "127.0.0.1:2002"}, "c": {"127.0.0.1:3001"}},
			allowed: []string{"127.0.0.1:2001", "127.0.0.1:2002", "127.0.0.1:3001"},
		},
		{
			// A shared environment reported by both: offered, the probe skips its own address.
			name:    "address shared by two tenants",
			learn:   map[string][]string{"a": {"127.0.0.1:1001"}, "b": {"127.0.0.1:1001", "127.0.0.1:2001"}},
			allowed: []string{"127.0.0.1:1001", "127.0.0.1:2001"},
		},
		{
			// Environments are recycled: the oldest addresses are likely gone.
			name:    "only the addresses heard from most recently",
			learn:   map[string][]string{"a": {"127.0.0.1:1001"}, "b": addrRange(2001, 2020)},
			allowed: addrRange(2020-peerFresh+1, 2020),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			book := func() *peerBook {
				b := newPeerBook(42)
				for _, tenant := range []string{"a", "b", "c"} {
					for _, addr := range tt.learn[tenant] {
						b.learn(tenant, rep(addr))
					}
				}
				b.learn("a", nil)
				b.learn("a", rep(""))
				return b
			}
			b1, b2 := book(), book()
			picked := 0
			for seq := int64(1); seq <= 200; seq++ {
				got := b1.pick(seq, "a", false)
				if again := b2.pick(seq, "a", false); !slices.Equal(got, again) {
					t.Fatalf("seq %d: %v then %v from the same seed and reports", seq, got, again)
				}
				if async := b1.pick(seq, "a", true); async != nil {
					t.Fatalf("seq %d: async invocation offered %v", seq, async)
				}
				if got == nil {
					continue
				}
				picked++
				if tt.allowed == nil {
					t.Fatalf("seq %d: offered %v, want nothing", seq, got)
				}
				if len(got) > maxPeerAddrs || len(got) > len(tt.allowed) {
					t.Fatalf("seq %d: offered %d addresses %v", seq, len(got), got)
				}
				for _, addr := range got {
					if !slices.Contains(tt.allowed, addr) {
						t.Fatalf("seq %d: offered %s, allowed %v", seq, addr, tt.allowed)
					}
				}
			}
			// One in peerEvery, give or take what 200 seeded draws allow.
			if tt.allowed != nil && (picked < 200/peerEvery/2 || picked > 200/peerEvery*2) {
				t.Errorf("%d of 200 invocations offered peers, want about %d", picked, 200/peerEvery)
			}
		})
	}
}

// addrRange is the loopback addresses with ports from..to, in order.
func addrRange(from, to int) []string {
	var out []string
	for p := from; p <= to; p++ {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return out
}

// addrTarget answers every invocation with a report whose RuntimeAPI is addr(tenant), and keeps
// the events it received.
type addrTarget struct {
	addr func(tenant string) string

	mu     sync.Mutex
	events map[int64]probes.Event
}

func (f *addrTarget) Invoke(_ context.Context, req InvokeRequest) (InvokeResponse, error) {
	var ev probes.Event
	if err := json.Unmarshal(req.Payload, &ev); err != nil {
		return InvokeResponse{}, fmt.Errorf("bad event: %w", err)
	}
	f.mu.Lock()
	f.events[ev.Seq] = ev
	f.mu.Unlock()
	body, err := json.Marshal(probes.Report{Schema: probes.SchemaVersion, EnvID: "env-" + req.Tenant,
		ContextTenant: req.Tenant, Tenant: ev.Tenant, RunID: ev.RunID, Seq: ev.Seq, RuntimeAPI: f.addr(req.Tenant)})
	return InvokeResponse{StatusCode: http.StatusOK, Payload: body}, err
}

func TestRunOffersOtherTenantsRuntimeAPIs(t *testing.T) {
	fixed := []Tenant{{ID: "tenant-a"}, {ID: "tenant-b"}, {ID: "tenant-c"}}
	port := map[string]int{"tenant-a": 1001, "tenant-b": 1002, "tenant-c": 1003}
	run := func(addr func(string) string) map[int64]probes.Event {
		f := &addrTarget{addr: addr, events: map[int64]probes.Event{}}
		_, err := Run(context.Background(), f, Options{Function: "fn", Fixed: fixed, Invocations: 60,
			Schedules: []string{SchedulePingPong}, Seed: 5, ErrorRate: -1})
		if err != nil {
			t.Fatal(err)
		}
		return f.events
	}
	distinct := func(tenant string) string { return fmt.Sprintf("127.0.0.1:%d", port[tenant]) }

	first, second := run(distinct), run(distinct)
	offered := 0
	for seq, ev := range first {
		if !slices.Equal(ev.RuntimeAPIPeers, second[seq].RuntimeAPIPeers) {
			t.Errorf("seq %d: %v then %v with the same seed", seq, ev.RuntimeAPIPeers, second[seq].RuntimeAPIPeers)
		}
		if len(ev.RuntimeAPIPeers) > 0 {
			offered++
		}
		for _, addr := range ev.RuntimeAPIPeers {
			if addr == distinct(ev.Tenant) {
				t.Errorf("seq %d: tenant %s offered its own address %s", seq, ev.Tenant, addr)
			}
		}
	}
	if offered == 0 {
		t.Errorf("no invocation of %d was offered a peer address", len(first))
	}

	for seq, ev := range run(func(string) string { return "127.0.0.1:9001" }) {
		if ev.RuntimeAPIPeers != nil {
			t.Errorf("seq %d: offered %v although every environment reported the same address", seq, ev.RuntimeAPIPeers)
		}
	}
}
