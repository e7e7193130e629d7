// Package keyrules names the wrong keys a multi-tenant target may derive from a tenant ID instead
// of using the whole ID: the text on one side of a separator, a case-folded or sanitised form, a
// truncated prefix, a number's value. Two tenants whose IDs share such a key share environments
// on a target that keys by it, and a suite that never invokes such a pair cannot tell.
//
// The runner uses the rules to choose tenant IDs that collide under every one of them and to say,
// in evidence, which rules a leaking pair collides under; the built-in target uses them for its
// key-* faults, one per rule, so each rule is proven detectable.
package keyrules

import (
	"strconv"
	"strings"
)

// Rule is one wrong key. Name is stable public interface: the built-in target's fault for the
// rule is "key-" + Name, and reports name rules by it.
type Rule struct {
	Name string
	// Family groups rules for reports: split, fold, substitute, sanitise, truncate, numeric.
	Family string
	// Doc says in a few words what the key keeps ("the text before the first dot of the tenant
	// ID"), for fault help and docs.
	Doc string
	key func(string) string
}

// Key is the key the rule derives from id.
func (r Rule) Key(id string) string { return r.key(id) }

// Collides reports whether two distinct IDs share the rule's key.
func (r Rule) Collides(a, b string) bool { return a != b && r.key(a) == r.key(b) }

// Separator is a character the tenant ID pattern admits besides letters and digits, with the
// word rule names use for it.
type Separator struct {
	Char byte
	Word string
}

// Separators are every non-alphanumeric character of the tenant ID pattern [a-zA-Z0-9._:/=+\-@ ].
func Separators() []Separator {
	return []Separator{{'.', "dot"}, {'_', "underscore"}, {':', "colon"}, {'/', "slash"},
		{'=', "equals"}, {'+', "plus"}, {'-', "dash"}, {'@', "at"}, {' ', "space"}}
}

// TruncationLimits are the prefix lengths at which implementations commonly cut identifiers
// (column widths, file name limits); 256 is the API's own maximum, so cutting there is harmless.
func TruncationLimits() []int { return []int{64, 100, 128, 255} }

// All returns every rule, in a stable order: split rules by separator, then the rest.
func All() []Rule {
	var rules []Rule
	for _, s := range Separators() {
		c := string(s.Char)
		rules = append(rules,
			Rule{Name: "before-first-" + s.Word, Family: "split", Doc: "the text before the first " + s.Word + " of the tenant ID",
				key: func(id string) string { before, _, _ := strings.Cut(id, c); return before }},
			Rule{Name: "before-last-" + s.Word, Family: "split", Doc: "the text before the last " + s.Word + " of the tenant ID",
				key: func(id string) string {
					if i := strings.LastIndex(id, c); i >= 0 {
						return id[:i]
					}
					return id
				}},
			Rule{Name: "after-first-" + s.Word, Family: "split", Doc: "the text after the first " + s.Word + " of the tenant ID",
				key: func(id string) string {
					if _, after, ok := strings.Cut(id, c); ok {
						return after
					}
					return id
				}},
			Rule{Name: "after-last-" + s.Word, Family: "split", Doc: "the text after the last " + s.Word + " of the tenant ID",
				key: func(id string) string { return id[strings.LastIndex(id, c)+1:] }},
		)
	}
	rules = append(rules,
		Rule{Name: "fold", Family: "fold", Doc: "the lower-cased tenant ID", key: strings.ToLower},
		Rule{Name: "plus-space", Family: "substitute", Doc: `the tenant ID with "+" read as a space (form decoding)`,
			key: func(id string) string { return strings.ReplaceAll(id, "+", " ") }},
		Rule{Name: "slash-colon", Family: "substitute", Doc: `the tenant ID with "/" turned into ":"`,
			key: func(id string) string { return strings.ReplaceAll(id, "/", ":") }},
		Rule{Name: "dash-underscore", Family: "substitute", Doc: `the tenant ID with "-" turned into "_"`,
			key: func(id string) string { return strings.ReplaceAll(id, "-", "_") }},
		Rule{Name: "sanitise", Family: "sanitise", Doc: `the tenant ID with every separator turned into "_" (a safe file name)`,
			key: func(id string) string {
				return strings.Map(func(r rune) rune {
					if strings.ContainsRune("._:/=+-@ ", r) {
						return '_'
					}
					return r
				}, id)
			}},
	)
	for _, n := range TruncationLimits() {
		rules = append(rules, Rule{Name: "truncate-" + strconv.Itoa(n), Family: "truncate", Doc: "the first " + strconv.Itoa(n) + " characters of the tenant ID",
			key: func(id string) string { return id[:min(n, len(id))] }})
	}
	rules = append(rules, Rule{Name: "numeric", Family: "numeric", Doc: `a numeric tenant ID's value ("007" is "7")`,
		key: func(id string) string {
			if id == "" || strings.Trim(id, "0123456789") != "" {
				return id
			}
			if t := strings.TrimLeft(id, "0"); t != "" {
				return t
			}
			return "0"
		}})
	return rules
}

// Lookup finds a rule by name.
func Lookup(name string) (Rule, bool) {
	for _, r := range All() {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// Collisions names the rules under which two distinct IDs share a key, in All's order.
func Collisions(a, b string) []string {
	var out []string
	for _, r := range All() {
		if r.Collides(a, b) {
			out = append(out, r.Name)
		}
	}
	return out
}
