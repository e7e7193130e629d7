package suites

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/reports"
)

func TestRegistry(t *testing.T) {
	idPattern := regexp.MustCompile(`^TI-[A-Z][A-Z0-9]*-\d{3}$`)
	clausePattern := regexp.MustCompile(`^[A-Z]+-\d{2}$`)
	seen := map[string]bool{}
	for _, c := range All() {
		if !idPattern.MatchString(c.ID) || seen[c.ID] {
			t.Errorf("bad or duplicate ID %q", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" || c.Area == "" || c.Remediation == "" || c.Severity == "" || c.Evaluate == nil {
			t.Errorf("%s: incomplete check %+v", c.ID, c)
		}
		if len(c.Clauses) == 0 {
			t.Errorf("%s: cites no clause", c.ID)
		}
		for _, cl := range c.Clauses {
			if !clausePattern.MatchString(cl) {
				t.Errorf("%s: clause %q is not a docs/CONTRACT.md clause ID", c.ID, cl)
			}
		}
		if c.Level != reports.Must && c.Level != reports.Should {
			t.Errorf("%s: level %q", c.ID, c.Level)
		}
	}
	for _, id := range allIDs {
		if !seen[id] {
			t.Errorf("public check ID %s is missing", id)
		}
	}
	// A caller mutating one registry must not change the next.
	first := All()
	first[0].Title = "changed"
	first[0].Places = append(first[0].Places, "x")
	if All()[0].Title == "changed" {
		t.Error("All shares state between calls")
	}
}

func TestSelect(t *testing.T) {
	all := All()
	tests := []struct {
		name          string
		include, skip []string
		want          []string // IDs; nil means every check
		wantErr       string
	}{
		{name: "default is everything"},
		{name: "by area", include: []string{"isolation"}, want: []string{"TI-ENV-001", "TI-MEM-001", "TI-TMP-001", "TI-FS-001", "TI-FS-002", "TI-VAR-001", "TI-BG-001", "TI-CRED-001", "TI-PROC-001", "TI-CTX-001", "TI-REUSE-001", "TI-RAPI-001", "TI-NET-001", "TI-NET-002", "TI-KEY-001", "TI-LOCK-001", "TI-RES-001", "TI-RES-002", "TI-RES-003"}},
		{name: "by id, registry order kept", include: []string{"TI-TMP-001", "TI-ENV-001"}, want: []string{"TI-ENV-001", "TI-TMP-001"}},
		{name: "case-insensitive", include: []string{"ti-mem-001"}, want: []string{"TI-MEM-001"}},
		{name: "duplicates collapse", include: []string{"TI-MEM-001", "TI-MEM-001", "isolation"}, skip: []string{"isolation"},
			wantErr: "leave no check to run"},
		{name: "skip from an area", include: []string{"isolation"}, skip: []string{"TI-REUSE-001", "TI-FS-002"},
			want: []string{"TI-ENV-001", "TI-MEM-001", "TI-TMP-001", "TI-FS-001", "TI-VAR-001", "TI-BG-001", "TI-CRED-001", "TI-PROC-001", "TI-CTX-001", "TI-RAPI-001", "TI-NET-001", "TI-NET-002", "TI-KEY-001", "TI-LOCK-001", "TI-RES-001", "TI-RES-002", "TI-RES-003"}},
		{name: "include and skip", include: []string{"TI-MEM-001", "TI-TMP-001"}, skip: []string{"TI-TMP-001"}, want: []string{"TI-MEM-001"}},
		{name: "blank names ignored", include: []string{" ", ""}},
		{name: "unknown include", include: []string{"TI-NOPE-001"}, wantErr: `include: unknown check or area "TI-NOPE-001" (known areas: `},
		{name: "unknown skip", skip: []string{"isolaton"}, wantErr: `skip: unknown check or area "isolaton"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(all, tt.include, tt.skip)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == nil {
				want = ids(all)
			}
			if g := strings.Join(ids(got), ","); g != strings.Join(want, ",") {
				t.Errorf("selected %s, want %s", g, strings.Join(want, ","))
			}
		})
	}
}

func TestDeselectedAreReportedAsSkip(t *testing.T) {
	all := All()
	sel, err := Select(all, []string{"TI-MEM-001"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rest := Skipped(Complement(all, sel), "deselected by --include")
	if len(rest) != len(all)-1 {
		t.Fatalf("%d skipped, want %d", len(rest), len(all)-1)
	}
	for _, r := range rest {
		if r.ID == "TI-MEM-001" || r.Status != reports.Skip || r.Reason != "deselected by --include" || r.Clause == "" {
			t.Errorf("bad skipped result %+v", r)
		}
	}
}
