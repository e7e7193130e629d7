// Package apilint reads an API Gateway definition statically, as an auditor handed one would:
// an OpenAPI or Swagger export with API Gateway's extensions (`aws apigateway get-export`), or a
// CloudFormation or SAM template (YAML with short-form tags such as !Ref, !GetAtt and !Sub, or
// JSON). It flags the front-door mistakes that send one tenant's request into another tenant's
// environment before any environment is chosen: a tenant the client picks, an HTTP API that
// cannot set the tenant, an authorizer cache keyed without the token, a PER_TENANT function with
// no authorizer, one API key for every tenant. It never deploys or calls anything.
package apilint

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule IDs are public interface (reports, waivers): never renumber one.
const (
	RuleClientTenant   = "TI-LINT-001"
	RuleHTTPAPI        = "TI-LINT-002"
	RuleCacheKey       = "TI-LINT-003"
	RuleNoAuthorizer   = "TI-LINT-004"
	RuleSharedKey      = "TI-LINT-005"
	tenantHeaderTarget = "integration.request.header.x-amz-tenant-id"
)

// Rule describes one kind of finding.
type Rule struct {
	ID          string `json:"id"`
	Level       string `json:"level"` // error or warning
	Title       string `json:"title"`
	Remediation string `json:"remediation"`
}

// Rules lists every rule in ID order.
func Rules() []Rule {
	return []Rule{
		{RuleClientTenant, "error", "X-Amz-Tenant-Id is mapped from something the client controls",
			"Map integration.request.header.X-Amz-Tenant-Id from context.authorizer.<claim> (the tenant the authorizer verified), never from a method request header, query string or path parameter, a stage variable or a static value."},
		{RuleHTTPAPI, "error", "An HTTP API fronts a PER_TENANT function",
			"HTTP APIs cannot set X-Amz-Tenant-Id on a Lambda integration: put a REST API (AWS::ApiGateway::RestApi or AWS::Serverless::Api) in front of PER_TENANT functions."},
		{RuleCacheKey, "error", "An authorizer's results are cached under values that do not identify the caller",
			"Make the token header (Authorization) one of the authorizer's identity sources, or set authorizerResultTtlInSeconds (SAM: ReauthorizeEvery) to 0: a cached result is served to every request with the same identity-source values, tenant included."},
		{RuleNoAuthorizer, "error", "A PER_TENANT function is reachable through a method with no authorizer",
			"Put a Lambda authorizer (or IAM or Cognito authorization) on every method that reaches a PER_TENANT function, and map the tenant from what it verified."},
		{RuleSharedKey, "warning", "A usage plan has no API key per tenant",
			"Give every tenant an API key of its own in the usage plan (returned by the authorizer as usageIdentifierKey): with one key for all tenants, one tenant's traffic throttles every other."},
	}
}

func ruleByID(id string) Rule {
	for _, r := range Rules() {
		if r.ID == id {
			return r
		}
	}
	return Rule{ID: id}
}

// Finding is one mistake at one place in the document.
type Finding struct {
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	Title   string `json:"title"`
	Path    string `json:"path"` // where in the document, dotted
	Line    int    `json:"line"` // 1-based; 0 when unknown
	Message string `json:"message"`
}

// Result is one document's findings.
type Result struct {
	File     string    `json:"file"`
	Kind     string    `json:"kind"` // openapi, swagger, cloudformation
	Findings []Finding `json:"findings"`
	// Notes say what the linter could not read (a definition in S3, say), so a clean result
	// states its limits.
	Notes []string `json:"notes,omitempty"`
}

// ParseError is a document the linter cannot read at all.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Lint reads one document (name is for the report) and returns its findings in document order.
func Lint(name string, data []byte) (*Result, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, &ParseError{fmt.Errorf("%s: neither JSON nor YAML: %w", name, err)}
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &ParseError{fmt.Errorf("%s: the document is not a mapping", name)}
	}
	doc := node{n: root.Content[0]}
	res := &Result{File: name, Findings: []Finding{}}
	l := &linter{res: res}
	switch {
	case doc.get("openapi").ok() || doc.get("swagger").ok():
		res.Kind = "openapi"
		if doc.get("swagger").ok() {
			res.Kind = "swagger"
		}
		l.openAPI(doc, "", nil)
	case doc.get("Resources").ok() || doc.get("AWSTemplateFormatVersion").ok():
		res.Kind = "cloudformation"
		if err := l.cloudFormation(doc); err != nil {
			return nil, &ParseError{fmt.Errorf("%s: %w", name, err)}
		}
	default:
		return nil, &ParseError{errors.New(name + ": neither an OpenAPI/Swagger document (openapi, swagger) nor a CloudFormation template (Resources)")}
	}
	slices.SortStableFunc(res.Findings, func(a, b Finding) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return res, nil
}

type linter struct{ res *Result }

func (l *linter) add(rule string, at node, format string, args ...any) {
	r := ruleByID(rule)
	l.res.Findings = append(l.res.Findings, Finding{Rule: rule, Level: r.Level, Title: r.Title,
		Path: at.path, Line: at.line(), Message: fmt.Sprintf(format, args...)})
}

// clientControlled says why a mapping expression is one the client chooses ("" when it is not).
func clientControlled(src string) string {
	src = strings.TrimSpace(src)
	switch {
	case strings.HasPrefix(src, "method.request."):
		return "the method request parameter " + src + ", which the client sends"
	case strings.HasPrefix(src, "stageVariables."):
		return "the stage variable " + src + ", the same for every tenant who calls the stage (and chosen by whoever picks the stage)"
	case len(src) >= 2 && strings.HasPrefix(src, "'") && strings.HasSuffix(src, "'"):
		return "the static value " + src + ", one tenant for every caller"
	case strings.HasPrefix(src, "context.authorizer."):
		return ""
	case strings.HasPrefix(src, "context."):
		return "the context variable " + src + ", which the authorizer did not verify"
	}
	return "the expression " + src + ", which is not the authorizer's context"
}
