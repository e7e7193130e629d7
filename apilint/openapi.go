package apilint

import (
	"cmp"
	"strconv"
	"strings"
)

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}

// authScheme is what a security scheme says about who calls.
type authScheme struct {
	authorizer bool // a Lambda authorizer, Cognito or IAM: the caller is verified
}

// openAPI lints an OpenAPI 3 or Swagger 2 document found at doc (prefix is its path in an
// enclosing template, "" for a file of its own). perTenant, when set, says which integration
// URIs reach PER_TENANT functions (from a template); without it, a method that maps
// X-Amz-Tenant-Id is taken to reach one, since only those take a tenant.
func (l *linter) openAPI(doc node, prefix string, perTenant func(uri node) bool) {
	schemes := map[string]authScheme{}
	for _, container := range []node{doc.get("components").get("securitySchemes"), doc.get("securityDefinitions")} {
		for _, e := range container.entries() {
			s := authScheme{}
			authType := strings.ToLower(e.val.get("x-amazon-apigateway-authtype").str())
			if az := e.val.get("x-amazon-apigateway-authorizer"); az.ok() {
				s.authorizer = true
				l.authorizerCache(e.val, az)
			} else if authType == "awssigv4" || authType == "cognito_user_pools" || strings.EqualFold(e.val.get("type").str(), "oauth2") {
				s.authorizer = true
			}
			schemes[e.key] = s
		}
	}
	global := doc.get("security")
	for _, p := range doc.get("paths").entries() {
		for _, m := range p.val.entries() {
			if !containsFold(httpMethods, m.key) {
				continue
			}
			integ := m.val.get("x-amazon-apigateway-integration")
			tenant, mapped := tenantMapping(integ.get("requestParameters"))
			if mapped {
				if why := clientControlled(tenant.str()); why != "" {
					l.add(RuleClientTenant, tenant, "%s %s takes its tenant from %s", strings.ToUpper(m.key), p.key, why)
				}
			}
			reaches := mapped
			if perTenant != nil {
				reaches = perTenant(integ.get("uri"))
			}
			if !reaches {
				continue
			}
			sec := m.val.get("security")
			if !sec.ok() {
				sec = global
			}
			verified := false
			for _, req := range sec.items() {
				for _, e := range req.entries() {
					if schemes[e.key].authorizer {
						verified = true
					}
				}
			}
			if !verified {
				l.add(RuleNoAuthorizer, m.val, "%s %s reaches a PER_TENANT function with no authorizer", strings.ToUpper(m.key), p.key)
			}
		}
	}
}

// tenantMapping finds the integration's X-Amz-Tenant-Id mapping, in any case.
func tenantMapping(params node) (node, bool) {
	for _, e := range params.entries() {
		if strings.EqualFold(e.key, tenantHeaderTarget) {
			return e.val, true
		}
	}
	return node{}, false
}

// authorizerCache flags a REQUEST authorizer whose cached results are keyed on values that do not
// hold the token. A TOKEN authorizer is keyed on its token header, which is the token.
func (l *linter) authorizerCache(scheme, az node) {
	if !strings.EqualFold(az.get("type").str(), "request") {
		return
	}
	ttl := 300
	if t := az.get("authorizerResultTtlInSeconds"); t.ok() {
		if n, err := strconv.Atoi(t.str()); err == nil {
			ttl = n
		}
	}
	if ttl == 0 {
		return
	}
	token := "method.request.header." + strings.ToLower(cmp.Or(scheme.get("name").str(), "Authorization"))
	sources := az.get("identitySource").strs()
	for _, s := range sources {
		if strings.EqualFold(s, token) || strings.EqualFold(s, "method.request.header.authorization") {
			return
		}
	}
	l.add(RuleCacheKey, az, "a REQUEST authorizer caches its results for %d s under %s, none of which is the token", ttl, orNone(sources))
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "no identity source at all"
	}
	return strings.Join(l, ", ")
}
