package runner

import (
	"math/rand/v2"
	"strings"
)

// Tenant is one tenant ID the runner invokes with, labelled with the adversarial group it
// belongs to so evidence can name the confusion ("adversarial pair: case").
type Tenant struct {
	ID string `json:"id"`
	// Pair is the group label; empty for a fresh random tenant.
	Pair string `json:"pair,omitempty"`
}

// Adversarial group labels. Each group holds IDs a careless target is likely to merge: by
// lower-casing, URL-decoding "+" to a space, splitting on ":", truncating, or turning
// separators into one safe character for a file or directory name.
const (
	PairCase       = "case"
	PairPlusSpace  = "plus-space"
	PairPrefix     = "prefix"
	PairLong       = "long"
	PairSeparators = "separators"
)

// MaxTenantIDLen is the API's upper bound on a tenant ID (API-Invoke).
const MaxTenantIDLen = 256

// separators are the non-alphanumeric characters the tenant ID pattern admits (space is
// covered by the plus-space pair). "_" is among them: a target that sanitises "t.x" or "t:x"
// into "t_x" for a path merges them with the genuine "t_x".
const separators = "._:/=+-@"

const base32Lower = "abcdefghijklmnopqrstuvwxyz234567"

// ValidTenantID reports whether id satisfies the API's constraints: length 1 to 256 and the
// pattern [a-zA-Z0-9._:/=+\-@ ]+ (underscore included). The SDK does not check this client-side, so the runner must
// never send an ID outside it by accident.
func ValidTenantID(id string) bool {
	if len(id) < 1 || len(id) > MaxTenantIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ' ' || strings.IndexByte(separators, c) >= 0:
		default:
			return false
		}
	}
	return true
}

func randBase32(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base32Lower[rng.IntN(len(base32Lower))]
	}
	return string(b)
}

// Tenants returns fresh random tenants followed by the adversarial groups. The random suffix
// shared by each group keeps runs against the same long-lived target independent: no run
// finds environments (or canaries) a previous run left for "the same" tenant. Twins are
// adjacent so schedules that walk the list in order invoke a twin right after its partner.
func Tenants(rng *rand.Rand, fresh int) []Tenant {
	out := make([]Tenant, 0, fresh+8+len(separators))
	for range fresh {
		out = append(out, Tenant{ID: "tc-" + randBase32(rng, 12)})
	}
	sfx := randBase32(rng, 8)
	add := func(pair string, ids ...string) {
		for _, id := range ids {
			out = append(out, Tenant{ID: id, Pair: pair})
		}
	}
	add(PairCase, "Acme-"+sfx, "acme-"+sfx)
	add(PairPlusSpace, "a+b"+sfx, "a b"+sfx)
	add(PairPrefix, "org:prod"+sfx, "org:dev"+sfx)
	long := "long-" + sfx + "-"
	long += strings.Repeat("x", MaxTenantIDLen-1-len(long))
	add(PairLong, long+"a", long+"b")
	for i := 0; i < len(separators); i++ {
		add(PairSeparators, "t"+separators[i:i+1]+sfx)
	}
	return out
}

// tenantGroups splits tenants into runs of consecutive IDs sharing a Pair label, preserving
// order; fresh tenants form one group.
func tenantGroups(tenants []Tenant) [][]int {
	var groups [][]int
	for i, t := range tenants {
		if i > 0 && tenants[i-1].Pair == t.Pair {
			groups[len(groups)-1] = append(groups[len(groups)-1], i)
			continue
		}
		groups = append(groups, []int{i})
	}
	return groups
}
