package runner

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/keyrules"
)

var tenantPattern = regexp.MustCompile(`^[a-zA-Z0-9._:/=+\-@ ]+$`)

func TestValidTenantID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"org:prod/eu=1+x-y@z.w", true},
		{"a b", true},
		{strings.Repeat("x", 256), true},
		{"", false},
		{strings.Repeat("x", 257), false},
		{"a_b", true},
		{"a\tb", false},
		{"é", false},
		{"a,b", false},
	}
	for _, tt := range tests {
		if got := ValidTenantID(tt.id); got != tt.want {
			t.Errorf("ValidTenantID(%q) = %v, want %v", tt.id, got, tt.want)
		}
		if tt.want != tenantPattern.MatchString(tt.id) && len(tt.id) <= 256 {
			t.Errorf("test case %q disagrees with the API pattern", tt.id)
		}
	}
}

func TestTenants(t *testing.T) {
	for _, fresh := range []int{0, 1, 4} {
		ts := Tenants(rand.New(rand.NewPCG(1, 2)), fresh)
		seen := map[string]bool{}
		byPair := map[string][]string{}
		for _, tn := range ts {
			if !ValidTenantID(tn.ID) || !tenantPattern.MatchString(tn.ID) {
				t.Errorf("invalid tenant ID %q", tn.ID)
			}
			if seen[tn.ID] {
				t.Errorf("duplicate tenant ID %q", tn.ID)
			}
			seen[tn.ID] = true
			byPair[tn.Pair] = append(byPair[tn.Pair], tn.ID)
		}
		if got := len(byPair[""]); got != fresh {
			t.Errorf("fresh=%d: got %d fresh tenants", fresh, got)
		}
		for _, id := range byPair[""] {
			if !strings.HasPrefix(id, "tc-") || len(id) != 15 {
				t.Errorf("fresh tenant %q: want tc- and 12 chars", id)
			}
		}
		pairs := []struct {
			label string
			check func(a, b string) bool
		}{
			{PairCase, func(a, b string) bool { return a != b && strings.EqualFold(a, b) }},
			{PairNumeric, func(a, b string) bool { return a == "00"+b && strings.Trim(b, "0123456789") == "" && b[0] != '0' }},
			{PairLong, func(a, b string) bool { return len(a) == 256 && len(b) == 256 && a[:255] == b[:255] && a != b }},
		}
		for _, p := range pairs {
			ids := byPair[p.label]
			if len(ids) != 2 || !p.check(ids[0], ids[1]) {
				t.Errorf("pair %s: got %q", p.label, ids)
			}
		}
		sep := strings.Join(byPair[PairSeparators], "")
		for _, c := range "_-/:+ " {
			if !strings.ContainsRune(sep, c) {
				t.Errorf("no separator tenant uses %q", c)
			}
		}
	}
	a := Tenants(rand.New(rand.NewPCG(1, 2)), 2)
	b := Tenants(rand.New(rand.NewPCG(3, 4)), 2)
	for i := range a {
		if a[i].ID == b[i].ID {
			t.Errorf("tenant %d equal across differently seeded runs: %q", i, a[i].ID)
		}
	}
}

// TestTenantsCoverEveryKeyRule: for every wrong-key rule, the default tenants hold a pair that
// collides under it inside one group, so the schedules (which walk a group's members in turn)
// invoke one right after the other, and a target keyed by the rule leaks between them.
func TestTenantsCoverEveryKeyRule(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		tenants := Tenants(rand.New(rand.NewPCG(seed, 7)), 6)
		seen := map[string]bool{}
		for _, tn := range tenants {
			if !ValidTenantID(tn.ID) {
				t.Fatalf("seed %d: invalid tenant ID %q", seed, tn.ID)
			}
			if seen[tn.ID] {
				t.Fatalf("seed %d: tenant %q twice", seed, tn.ID)
			}
			seen[tn.ID] = true
		}
		for _, r := range keyrules.All() {
			covered := false
			for _, g := range tenantGroups(tenants) {
				for i := range g {
					for j := i + 1; j < len(g); j++ {
						covered = covered || r.Collides(tenants[g[i]].ID, tenants[g[j]].ID)
					}
				}
			}
			if !covered {
				t.Errorf("seed %d: no group holds a pair colliding under %s", seed, r.Name)
			}
		}
	}
}
