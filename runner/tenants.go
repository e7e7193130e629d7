package runner

import (
	"math/rand/v2"
	"strings"

	"github.com/tenantcheck/tenantcheck/keyrules"
)

// Tenant is one tenant ID the runner invokes with, labelled with the adversarial group it
// belongs to so evidence can name the confusion ("adversarial pair: case").
type Tenant struct {
	ID string `json:"id"`
	// Pair is the group label; empty for a fresh random tenant.
	Pair string `json:"pair,omitempty"`
}

// Adversarial group labels. Each group holds IDs a careless target is likely to merge: by
// lower-casing, URL-decoding "+" to a space, splitting on a separator, truncating, reading a
// number, or turning separators into one safe character for a file or directory name. The set is
// kept small (20 IDs): every tenant costs cold starts in every schedule, and past 32 tenants the
// burst schedule's two environments each outgrow the default cap of 64. Together
// the groups hold, for every wrong-key rule of package keyrules, at least one pair that collides
// under it (TestTenantsCoverEveryKeyRule); evidence of a leak names the rules its pair collides
// under.
const (
	PairCase = "case"
	PairLong = "long"
	// PairSeparators differ only in one separator, so a target that substitutes one separator
	// for another (form decoding "+" to a space, "/" to ":", "-" to "_") or sanitises them all
	// into "_" merges them.
	PairSeparators = "separators"
	// PairSplitBefore share everything up to and including the last of every separator, so
	// they collide under every before-first-X and before-last-X rule.
	PairSplitBefore = "split-before"
	// PairSplitAfter share everything from the first of every separator on: every
	// after-first-X and after-last-X rule.
	PairSplitAfter = "split-after"
	// PairNumeric are a number with and without leading zeros.
	PairNumeric = "numeric"
	// PairPath and PairARN are shapes SaaS tenant IDs commonly take; each collides under
	// several rules at once.
	PairPath = "path-email"
	PairARN  = "arn"
)

// separatorTwins are the separators of the PairSeparators group: one of each substitution
// rule's two sides, and so every one the sanitise rule merges.
const separatorTwins = "_-/:+ "

// MaxTenantIDLen is the API's upper bound on a tenant ID (API-Invoke).
const MaxTenantIDLen = 256

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
		case isSeparator(c):
		default:
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	for _, s := range keyrules.Separators() {
		if s.Char == c {
			return true
		}
	}
	return false
}

func randBase32(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base32Lower[rng.IntN(len(base32Lower))]
	}
	return string(b)
}

// randNumber is n decimal digits without a leading zero.
func randNumber(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	b[0] = byte('1' + rng.IntN(9))
	return string(b)
}

// Tenants returns fresh random tenants followed by the adversarial groups. The random suffix
// shared by each group keeps runs against the same long-lived target independent: no run
// finds environments (or canaries) a previous run left for "the same" tenant. Twins are
// adjacent so schedules that walk the list in order invoke a twin right after its partner.
func Tenants(rng *rand.Rand, fresh int) []Tenant {
	seps := keyrules.Separators()
	out := make([]Tenant, 0, fresh+20)
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
	long := "long-" + sfx + "-"
	long += strings.Repeat("x", MaxTenantIDLen-1-len(long))
	add(PairLong, long+"a", long+"b")
	for i := 0; i < len(separatorTwins); i++ {
		add(PairSeparators, "t"+separatorTwins[i:i+1]+sfx)
	}
	// Every separator once, between letters, so a split on any of them keeps the suffix on
	// the side it is put on.
	var every strings.Builder
	for _, s := range seps {
		every.WriteByte(s.Char)
		every.WriteByte('x')
	}
	add(PairSplitBefore, sfx+every.String()+"a", sfx+every.String()+"b")
	add(PairSplitAfter, "a"+every.String()+sfx, "b"+every.String()+sfx)
	num := randNumber(rng, 12)
	add(PairNumeric, "00"+num, num)
	add(PairPath, "org/"+sfx+"/alice@example.com", "org/"+sfx+"/bob@example.com")
	add(PairARN, "arn:aws:iam::111111111111:role/"+sfx, "arn:aws:iam::222222222222:role/"+sfx)
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
