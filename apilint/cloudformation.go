package apilint

import (
	"errors"
	"strconv"
	"strings"
)

type resource struct {
	id, typ string
	props   node
	node    node
}

// cloudFormation lints a CloudFormation or SAM template: REST API methods, authorizers and usage
// plans as resources, OpenAPI bodies inline, SAM's Api and HttpApi shorthands and function
// events, and HTTP APIs in front of PER_TENANT functions.
func (l *linter) cloudFormation(doc node) error {
	resources := doc.get("Resources")
	if !resources.ok() {
		return errors.New("the template has no Resources")
	}
	var all []resource
	byID := map[string]resource{}
	for _, e := range resources.entries() {
		r := resource{id: e.key, typ: e.val.get("Type").str(), props: e.val.get("Properties"), node: e.val}
		all = append(all, r)
		byID[r.id] = r
	}
	perTenant := map[string]bool{}
	for _, r := range all {
		if (r.typ == "AWS::Lambda::Function" || r.typ == "AWS::Serverless::Function") &&
			strings.EqualFold(r.props.get("TenancyConfig").get("TenantIsolationMode").str(), "PER_TENANT") {
			perTenant[r.id] = true
		}
	}
	reaches := func(v node) bool {
		for _, id := range v.refs() {
			if perTenant[id] {
				return true
			}
		}
		return false
	}
	keysOf := map[string]int{}
	for _, r := range all {
		if r.typ == "AWS::ApiGateway::UsagePlanKey" {
			for _, id := range r.props.get("UsagePlanId").refs() {
				keysOf[id]++
			}
		}
	}
	for _, r := range all {
		switch r.typ {
		case "AWS::ApiGateway::Method":
			integ := r.props.get("Integration")
			if tenant, ok := tenantMapping(integ.get("RequestParameters")); ok {
				if why := clientControlled(tenant.str()); why != "" {
					l.add(RuleClientTenant, tenant, "method %s takes its tenant from %s", r.id, why)
				}
			}
			if reaches(integ.get("Uri")) {
				at := r.props.get("AuthorizationType")
				if t := strings.ToUpper(at.str()); t == "" || t == "NONE" {
					if !at.ok() {
						at = r.props
					}
					l.add(RuleNoAuthorizer, at, "method %s reaches a PER_TENANT function with no authorizer", r.id)
				}
			}
		case "AWS::ApiGateway::Authorizer":
			if !strings.EqualFold(r.props.get("Type").str(), "REQUEST") {
				continue
			}
			ttl := 300
			if t := r.props.get("AuthorizerResultTtlInSeconds"); t.ok() {
				if n, err := strconv.Atoi(t.str()); err == nil {
					ttl = n
				}
			}
			sources := r.props.get("IdentitySource").strs()
			if ttl > 0 && !containsFold(sources, "method.request.header.Authorization") {
				l.add(RuleCacheKey, r.props.get("IdentitySource"), "authorizer %s caches its results for %d s under %s, none of which is the token", r.id, ttl, orNone(sources))
			}
		case "AWS::ApiGateway::RestApi":
			l.inlineBody(r, "Body", "BodyS3Location", reaches)
		case "AWS::Serverless::Api":
			l.inlineBody(r, "DefinitionBody", "DefinitionUri", reaches)
			l.samAuthorizers(r)
			if p := r.props.get("Auth").get("UsagePlan"); p.ok() && len(perTenant) > 0 {
				if c := strings.ToUpper(p.get("CreateUsagePlan").str()); c == "SHARED" || c == "PER_API" {
					l.add(RuleSharedKey, p, "SAM's usage plan of %s (CreateUsagePlan %s) has one API key for every caller", r.id, c)
				}
			}
		case "AWS::ApiGateway::UsagePlan":
			if len(perTenant) > 0 && keysOf[r.id] <= 1 {
				l.add(RuleSharedKey, r.node, "usage plan %s has %d API keys for every tenant of the PER_TENANT functions", r.id, keysOf[r.id])
			}
		case "AWS::ApiGatewayV2::Integration":
			if reaches(r.props.get("IntegrationUri")) {
				l.add(RuleHTTPAPI, r.props.get("IntegrationUri"), "HTTP API integration %s invokes a PER_TENANT function", r.id)
			}
		case "AWS::ApiGatewayV2::Api":
			if reaches(r.props.get("Target")) {
				l.add(RuleHTTPAPI, r.props.get("Target"), "HTTP API %s (quick create) targets a PER_TENANT function", r.id)
			}
		case "AWS::Serverless::Function":
			if perTenant[r.id] {
				l.samEvents(r, byID)
			}
		}
	}
	return nil
}

// inlineBody lints an inline OpenAPI body, and says so when the body lies elsewhere.
func (l *linter) inlineBody(r resource, bodyKey, locationKey string, reaches func(node) bool) {
	if body := r.props.get(bodyKey); body.ok() {
		l.openAPI(body, body.path, reaches)
	} else if r.props.get(locationKey).ok() {
		l.res.Notes = append(l.res.Notes, r.id+": the definition is at "+locationKey+", which the linter does not fetch; lint the exported definition too")
	}
}

// samAuthorizers lints AWS::Serverless::Api Auth.Authorizers: a REQUEST authorizer is cached
// (Identity.ReauthorizeEvery, default 300) under its identity headers and query strings.
func (l *linter) samAuthorizers(r resource) {
	for _, e := range r.props.get("Auth").get("Authorizers").entries() {
		if !strings.EqualFold(e.val.get("FunctionPayloadType").str(), "REQUEST") {
			continue
		}
		id := e.val.get("Identity")
		ttl := 300
		if t := id.get("ReauthorizeEvery"); t.ok() {
			if n, err := strconv.Atoi(t.str()); err == nil {
				ttl = n
			}
		}
		headers := id.get("Headers").strs()
		if ttl > 0 && !containsFold(headers, "Authorization") {
			var sources []string
			for _, h := range headers {
				sources = append(sources, "header "+h)
			}
			for _, q := range id.get("QueryStrings").strs() {
				sources = append(sources, "query string "+q)
			}
			l.add(RuleCacheKey, e.val, "SAM authorizer %s of %s caches its results for %d s under %s, none of which is the token", e.key, r.id, ttl, orNone(sources))
		}
	}
}

// samEvents lints a PER_TENANT SAM function's events: an HttpApi event puts an HTTP API in front
// of it, and an Api event on an API without an authorizer reaches it unverified.
func (l *linter) samEvents(r resource, byID map[string]resource) {
	for _, e := range r.props.get("Events").entries() {
		props := e.val.get("Properties")
		switch e.val.get("Type").str() {
		case "HttpApi":
			l.add(RuleHTTPAPI, e.val, "function %s has an HttpApi event (%s): an HTTP API cannot set its tenant", r.id, e.key)
		case "Api":
			auth := props.get("Auth").get("Authorizer").str()
			if strings.EqualFold(auth, "NONE") {
				l.add(RuleNoAuthorizer, props.get("Auth").get("Authorizer"), "function %s's Api event %s turns the authorizer off", r.id, e.key)
				continue
			}
			if auth != "" {
				continue
			}
			def := ""
			for _, id := range props.get("RestApiId").refs() {
				def = byID[id].props.get("Auth").get("DefaultAuthorizer").str()
			}
			if def == "" || strings.EqualFold(def, "NONE") {
				l.add(RuleNoAuthorizer, e.val, "function %s's Api event %s has no authorizer and its API no default one", r.id, e.key)
			}
		}
	}
}
