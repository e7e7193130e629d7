package apilint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/owenrumney/go-sarif/v3/pkg/report"
	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// SARIF renders results as one SARIF 2.1.0 run, for code-scanning UIs: every rule with its
// remediation as help, every finding at its file and line (a physical location, which GitHub
// code scanning requires), and a partial fingerprint of rule and document path, so an alert
// keeps its identity when lines move. The log is validated against the SARIF schema before it
// is returned.
func SARIF(results []*Result, toolVersion string) ([]byte, error) {
	rep := report.NewV210Report()
	run := sarif.NewRunWithInformationURI("tenantcheck lint-api", "https://github.com/tenantcheck/tenantcheck")
	run.Tool.Driver.WithVersion(toolVersion)
	for _, r := range Rules() {
		run.AddRule(r.ID).
			WithName(r.ID).
			WithShortDescription(sarif.NewMultiformatMessageString().WithText(r.Title)).
			WithHelp(sarif.NewMultiformatMessageString().WithText(r.Remediation)).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(r.Level)).
			WithProperties(sarif.NewPropertyBag().Add("tags", []string{"security", "tenant-isolation"}))
	}
	for _, res := range results {
		run.AddDistinctArtifact(res.File)
		for _, f := range res.Findings {
			sum := sha256.Sum256([]byte(f.Rule + "\x00" + res.File + "\x00" + f.Path))
			run.CreateResultForRule(f.Rule).
				WithLevel(f.Level).
				WithMessage(sarif.NewTextMessage(f.Message + " (at " + f.Path + ")")).
				WithPartialFingerprints(map[string]string{"tenantcheckPath/v1": hex.EncodeToString(sum[:16])}).
				AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewSimpleArtifactLocation(res.File)).
					WithRegion(sarif.NewSimpleRegion(max(f.Line, 1), max(f.Line, 1)))))
		}
	}
	rep.AddRun(run)
	if err := rep.Validate(); err != nil {
		return nil, fmt.Errorf("SARIF log does not validate against its schema: %w", err)
	}
	var b bytes.Buffer
	if err := rep.PrettyWrite(&b); err != nil {
		return nil, fmt.Errorf("write SARIF: %w", err)
	}
	return b.Bytes(), nil
}
