package suites

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	clauseHeading = regexp.MustCompile(`^### ([A-Z]+-\d{2}) — `)
	checkedByList = regexp.MustCompile(`^Checked by:\s*(none yet|TI-[A-Z0-9]+-\d{3}(?:\.\.TI-[A-Z0-9]+-\d{3})?(?:,\s*TI-[A-Z0-9]+-\d{3}(?:\.\.TI-[A-Z0-9]+-\d{3})?)*)`)
	checkIDParts  = regexp.MustCompile(`^(TI-[A-Z0-9]+-)(\d{3})$`)
)

// readContract parses docs/CONTRACT.md into each clause's "Checked by" list, with ranges such as
// TI-S3-001..TI-S3-004 spelled out. Every clause must have exactly one "Checked by".
func readContract(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "CONTRACT.md"))
	if err != nil {
		t.Fatalf("read docs/CONTRACT.md: %v", err)
	}
	texts := map[string]*strings.Builder{}
	var order []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if m := clauseHeading.FindStringSubmatch(line); m != nil {
			if texts[m[1]] != nil {
				t.Fatalf("docs/CONTRACT.md: clause %s appears twice", m[1])
			}
			cur = &strings.Builder{}
			texts[m[1]] = cur
			order = append(order, m[1])
			continue
		}
		if strings.HasPrefix(line, "#") {
			cur = nil // a group heading ends the clause
			continue
		}
		if cur != nil {
			cur.WriteString(line + " ")
		}
	}
	if len(order) == 0 {
		t.Fatal("docs/CONTRACT.md has no clauses")
	}
	doc := map[string][]string{}
	for _, id := range order {
		text := texts[id].String()
		parts := strings.Split(text, "Checked by:")
		if len(parts) != 2 {
			t.Errorf("clause %s: %d \"Checked by:\" lines, want 1", id, len(parts)-1)
			continue
		}
		m := checkedByList.FindStringSubmatch("Checked by:" + parts[1])
		if m == nil {
			t.Errorf("clause %s: cannot read its \"Checked by:\" list: %.60q", id, parts[1])
			continue
		}
		checks := []string{}
		if m[1] != "none yet" {
			for _, item := range strings.Split(m[1], ",") {
				ids, err := expandCheckRange(strings.TrimSpace(item))
				if err != nil {
					t.Errorf("clause %s: %v", id, err)
				}
				checks = append(checks, ids...)
			}
		}
		slices.Sort(checks)
		doc[id] = checks
	}
	return doc
}

// expandCheckRange turns "TI-S3-001..TI-S3-003" into its three IDs; a single ID is itself.
func expandCheckRange(item string) ([]string, error) {
	from, to, isRange := strings.Cut(item, "..")
	if !isRange {
		return []string{item}, nil
	}
	a, b := checkIDParts.FindStringSubmatch(from), checkIDParts.FindStringSubmatch(to)
	if a == nil || b == nil || a[1] != b[1] {
		return nil, fmt.Errorf("range %q: want TI-X-nnn..TI-X-mmm within one prefix", item)
	}
	lo, _ := strconv.Atoi(a[2])
	hi, _ := strconv.Atoi(b[2])
	if lo > hi {
		return nil, fmt.Errorf("range %q runs backwards", item)
	}
	var out []string
	for n := lo; n <= hi; n++ {
		out = append(out, fmt.Sprintf("%s%03d", a[1], n))
	}
	return out, nil
}

// TestContractDoc reads docs/CONTRACT.md both ways, as the matrix test reads FAULTS.md: every
// clause a check cites exists, and every clause's "Checked by" list names exactly the checks
// that cite it. So the contract and the checks cannot drift apart unnoticed.
func TestContractDoc(t *testing.T) {
	doc := readContract(t)
	citing := map[string][]string{}
	for _, c := range All() {
		for _, cl := range c.Clauses {
			if _, ok := doc[cl]; !ok {
				t.Errorf("%s cites %s, which docs/CONTRACT.md does not define", c.ID, cl)
				continue
			}
			citing[cl] = append(citing[cl], c.ID)
		}
	}
	for cl, listed := range doc {
		got := citing[cl]
		slices.Sort(got)
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, listed) {
			t.Errorf("clause %s: docs/CONTRACT.md says \"Checked by: %s\", the checks citing it are %s",
				cl, orNoneYet(listed), orNoneYet(got))
		}
	}
}

func orNoneYet(ids []string) string {
	if len(ids) == 0 {
		return "none yet"
	}
	return strings.Join(ids, ", ")
}

func TestExpandCheckRange(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"TI-MEM-001", []string{"TI-MEM-001"}, false},
		{"TI-S3-001..TI-S3-003", []string{"TI-S3-001", "TI-S3-002", "TI-S3-003"}, false},
		{"TI-S3-003..TI-S3-001", nil, true},
		{"TI-S3-001..TI-LOG-002", nil, true},
	}
	for _, tc := range tests {
		got, err := expandCheckRange(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("expandCheckRange(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
