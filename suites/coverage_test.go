package suites

import (
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/runner"
)

func TestCoverage(t *testing.T) {
	type seen struct{ tenant, boot string }
	tests := []struct {
		name       string
		reports    []seen
		wantShared string
		kernels    int
		tenants    int
		wantKernel bool // the shared-kernel channels are listed
	}{
		{"no probe reported a kernel", []seen{{"blue", ""}}, "unknown", 0, 0, true},
		{"two tenants on one kernel", []seen{{"blue", "k1"}, {"green", "k1"}, {"blue", "k1"}}, "yes", 1, 2, true},
		{"a kernel per environment", []seen{{"blue", "k1"}, {"green", "k2"}, {"blue", "k3"}}, "no", 3, 2, false},
		{"one tenant, one kernel", []seen{{"blue", "k1"}, {"blue", "k1"}}, "unknown", 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &runner.Observations{}
			for i, s := range tt.reports {
				obs.Items = append(obs.Items, runner.Observation{Seq: int64(i + 1), Tenant: s.tenant,
					Report: &probes.Report{EnvID: "env", Tenant: s.tenant, BootID: s.boot}})
			}
			c := Coverage(obs)
			if c.SharedKernel != tt.wantShared || c.Kernels != tt.kernels || c.Tenants != tt.tenants {
				t.Errorf("coverage %+v, want shared %s, %d kernels, %d tenants", c, tt.wantShared, tt.kernels, tt.tenants)
			}
			all := strings.Join(c.NotCovered, "\n")
			if !strings.Contains(all, "CPU time") {
				t.Errorf("resource limits not declared uncovered: %q", all)
			}
			if got := strings.Contains(all, "record) locks"); got != tt.wantKernel {
				t.Errorf("shared-kernel channels listed = %v, want %v: %q", got, tt.wantKernel, all)
			}
		})
	}
}
