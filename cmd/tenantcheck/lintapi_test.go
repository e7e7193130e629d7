package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestLintAPICommand(t *testing.T) {
	td := func(p string) string { return filepath.Join("..", "..", "apilint", "testdata", p) }
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"clean", []string{td("openapi/correct.yaml"), td("cloudformation/correct.yaml")}, ExitOK, "0 findings in 2 files", ""},
		{"findings", []string{td("cloudformation/http-api.yaml")}, ExitFail, "TI-LINT-002", ""},
		{"json", []string{"--format", "json", td("openapi/no-authorizer.yaml")}, ExitFail, `"rule": "TI-LINT-004"`, ""},
		{"sarif", []string{"--format", "sarif", td("openapi/static-tenant.yaml")}, ExitFail, `"ruleId": "TI-LINT-001"`, ""},
		{"missing file", []string{td("nope.yaml")}, ExitIncomplete, "", "no such file"},
		{"not a definition", []string{td("../apilint.go")}, ExitIncomplete, "", "lint-api"},
		{"bad format", []string{"--format", "xml", td("openapi/correct.yaml")}, ExitIncomplete, "", "want table, json or sarif"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(context.Background(), append([]string{"lint-api"}, tc.args...), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errOut.String())
			}
			if tc.name == "sarif" && !json.Valid(out.Bytes()) {
				t.Errorf("SARIF output is not JSON")
			}
		})
	}
}
