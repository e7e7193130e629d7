package runner

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestAnnounce: the default run is short and says nothing up front; 10,000 tenants say how
// many new environments they need and roughly how long that takes.
func TestAnnounce(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		tenants, invocations int
		want                 string // "" for silence
	}{
		{"default run", 0, 0, ""},
		{"ten thousand tenants", 10000, 12000, "on a new environment: expect roughly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Tenants: tc.tenants, Invocations: tc.invocations, Seed: 1}.withDefaults()
			tenants := Tenants(rand.New(rand.NewPCG(1, 2)), opts.Tenants)
			phases, err := plan(opts, tenants)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			announce(&out, phases, len(tenants))
			if tc.want == "" {
				if out.Len() != 0 {
					t.Errorf("announced a short run: %q", out.String())
				}
				return
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("announcement %q lacks %q", out.String(), tc.want)
			}
			d, cold := forecast(phases, time.Second)
			// 12,000 random picks from 10,020 tenants reach about two thirds of them.
			if cold < tc.tenants/2 || d < time.Duration(cold)*coldCost {
				t.Errorf("forecast %s with %d new environments for %d tenants (%s): each tenant's first invocation is one", d, cold, tc.tenants, out.String())
			}
		})
	}
}
