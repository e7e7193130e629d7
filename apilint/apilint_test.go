package apilint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenantcheck/tenantcheck/internal/golden"
)

// TestLintFlagsExactlyThePitfalls: one definition per pitfall and correct ones, in OpenAPI,
// Swagger, CloudFormation (short-form YAML and JSON) and SAM form; each is flagged with exactly
// its rules, and the whole result is pinned by a golden file (go test ./apilint -update).
func TestLintFlagsExactlyThePitfalls(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"openapi/correct.yaml", nil},
		{"openapi/correct-swagger.json", nil},
		{"openapi/client-header.yaml", []string{RuleClientTenant}},
		{"openapi/static-tenant.yaml", []string{RuleClientTenant}},
		{"openapi/stage-variable.yaml", []string{RuleClientTenant}},
		{"openapi/client-query-swagger.json", []string{RuleClientTenant}},
		{"openapi/cache-without-token.yaml", []string{RuleCacheKey}},
		{"openapi/no-authorizer.yaml", []string{RuleNoAuthorizer}},
		{"cloudformation/correct.yaml", nil},
		{"cloudformation/correct.json", nil},
		{"cloudformation/sam-correct.yaml", nil},
		{"cloudformation/client-header.yaml", []string{RuleClientTenant}},
		{"cloudformation/http-api.yaml", []string{RuleHTTPAPI}},
		{"cloudformation/cache-without-token.yaml", []string{RuleCacheKey}},
		{"cloudformation/no-authorizer.yaml", []string{RuleNoAuthorizer}},
		{"cloudformation/body-no-authorizer.json", []string{RuleNoAuthorizer}},
		{"cloudformation/shared-key.yaml", []string{RuleSharedKey}},
		{"cloudformation/sam-http-api.yaml", []string{RuleHTTPAPI}},
		{"cloudformation/sam-request-cache.yaml", []string{RuleCacheKey}},
		{"cloudformation/sam-no-authorizer.yaml", []string{RuleNoAuthorizer}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Lint(tc.file, data)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Rule)
				if f.Line == 0 || f.Path == "" || f.Message == "" {
					t.Errorf("finding without a place or a message: %+v", f)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rules %v, want %v: %+v", got, tc.want, res.Findings)
			}
			js, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", "golden", strings.ReplaceAll(tc.file, "/", "_")+".json"), append(js, '\n'))
		})
	}
}

func TestLintRefusesWhatItCannotRead(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"not yaml", "{{", "neither JSON nor YAML"},
		{"a list", "- a\n- b\n", "not a mapping"},
		{"something else", "kind: Pod\n", "neither an OpenAPI"},
		{"empty", "", "neither JSON nor YAML"},
	} {
		_, err := Lint(tc.name, []byte(tc.doc))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a ParseError saying %q", tc.name, err, tc.want)
		}
	}
}

func TestLintNotesWhatItDoesNotFetch(t *testing.T) {
	res, err := Lint("t.yaml", []byte("Resources:\n  Api:\n    Type: AWS::ApiGateway::RestApi\n    Properties:\n      BodyS3Location: {Bucket: b, Key: k}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "does not fetch") {
		t.Fatalf("notes %v", res.Notes)
	}
}

// TestSARIFMeetsGitHubsLocationRules: the log validates against the SARIF 2.1.0 schema (SARIF
// refuses otherwise), and every result has what GitHub code scanning requires: a physical
// location with a file and a start line, and a partial fingerprint.
func TestSARIFMeetsGitHubsLocationRules(t *testing.T) {
	var results []*Result
	for _, f := range []string{"openapi/client-header.yaml", "cloudformation/shared-key.yaml", "cloudformation/correct.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Lint(f, data)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	b, err := SARIF(results, "test")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID              string            `json:"ruleId"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != 2 {
		t.Fatalf("want one run with 2 results: %s", b)
	}
	for _, r := range log.Runs[0].Results {
		if len(r.Locations) == 0 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" ||
			r.Locations[0].PhysicalLocation.Region.StartLine < 1 || len(r.PartialFingerprints) == 0 {
			t.Errorf("result %s lacks a physical location or a fingerprint: %+v", r.RuleID, r)
		}
	}
}
