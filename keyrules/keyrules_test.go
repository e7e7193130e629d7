package keyrules

import (
	"slices"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	x64 := strings.Repeat("x", 64)
	tests := []struct {
		rule       string
		id, key    string
		twin, miss string // twin shares id's key under the rule; miss does not
	}{
		{"before-first-slash", "org/acme/alice", "org", "org/beta", "orga/acme"},
		{"before-last-slash", "org/acme/alice", "org/acme", "org/acme/bob", "org/acmes/alice"},
		{"after-first-slash", "org/acme/alice", "acme/alice", "team/acme/alice", "org/acme/bob"},
		{"after-last-slash", "org/acme/alice", "alice", "x/alice", "org/acme/alicia"},
		{"before-first-at", "alice@example.com", "alice", "alice@test.io", "bob@example.com"},
		{"after-last-at", "alice@example.com", "example.com", "bob@example.com", "alice@test.io"},
		{"before-first-space", "a b c", "a", "a z", "ab c"},
		{"after-last-dot", "nodot", "nodot", "a.nodot", "nodots"},
		{"fold", "Acme", "acme", "ACME", "acne"},
		{"plus-space", "a+b", "a b", "a b", "a-b"},
		{"slash-colon", "org/dev", "org:dev", "org:dev", "org-dev"},
		{"dash-underscore", "a-b", "a_b", "a_b", "a.b"},
		{"sanitise", "a.b:c", "a_b_c", "a/b@c", "abc"},
		{"truncate-64", x64 + "tail", x64, x64 + "other", "short"},
		{"numeric", "007", "7", "7", "70"},
		{"numeric", "000", "0", "0", "00a"},
		{"numeric", "a07", "a07", "a07", "a7"},
	}
	for _, tc := range tests {
		t.Run(tc.rule+"/"+tc.id, func(t *testing.T) {
			r, ok := Lookup(tc.rule)
			if !ok {
				t.Fatalf("no rule %q", tc.rule)
			}
			if got := r.Key(tc.id); got != tc.key {
				t.Errorf("Key(%q) = %q, want %q", tc.id, got, tc.key)
			}
			if tc.twin != tc.id && !r.Collides(tc.id, tc.twin) {
				t.Errorf("%q and %q do not collide", tc.id, tc.twin)
			}
			if r.Collides(tc.id, tc.miss) {
				t.Errorf("%q and %q collide", tc.id, tc.miss)
			}
			if r.Collides(tc.id, tc.id) {
				t.Error("an ID collides with itself")
			}
		})
	}
}

// TestAllRulesNamedOnce: names are public interface (faults key-NAME), so each is unique, and
// every separator of the tenant ID pattern has its four split rules.
func TestAllRulesNamedOnce(t *testing.T) {
	var names []string
	for _, r := range All() {
		if slices.Contains(names, r.Name) {
			t.Errorf("rule %q twice", r.Name)
		}
		if r.Doc == "" || r.Family == "" {
			t.Errorf("rule %q lacks a family or doc", r.Name)
		}
		names = append(names, r.Name)
	}
	for _, s := range Separators() {
		for _, side := range []string{"before-first-", "before-last-", "after-first-", "after-last-"} {
			if !slices.Contains(names, side+s.Word) {
				t.Errorf("no rule %s%s", side, s.Word)
			}
		}
	}
	if got := Collisions("org/acme/alice", "org/acme/bob"); !slices.Contains(got, "before-last-slash") || slices.Contains(got, "fold") {
		t.Errorf("Collisions = %v", got)
	}
}
