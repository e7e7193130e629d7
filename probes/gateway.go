package probes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// GatewaySeen is what a request that came through API Gateway carried to the probe, for the
// gateway area: the authorizer's context (credentials reduced to whether they were there) and
// every tenant the client itself named, which must not be the tenant the probe was invoked for
// unless the token says so too.
type GatewaySeen struct {
	// Authorizer is requestContext.authorizer, credential values left out.
	Authorizer map[string]string `json:"authorizer,omitempty"`
	// AuthorizerCredentials says the authorizer passed credentials in its context.
	AuthorizerCredentials bool `json:"authorizerCredentials,omitempty"`
	// ClientTenants are the values of the headers and query parameters a client could use to
	// name a tenant (X-Amz-Tenant-Id, x-tenant-id, tenantId, in any case).
	ClientTenants []string `json:"clientTenants,omitempty"`
	APIKeyID      string   `json:"apiKeyId,omitempty"`
	RequestID     string   `json:"requestId,omitempty"`
}

// credentialContextKeys are the authorizer context entries that carry credentials.
var credentialContextKeys = map[string]bool{"accessKeyId": true, "secretAccessKey": true, "sessionToken": true}

// HandleAny serves both shapes the probe is invoked with: the runner's Event, and a REST API
// proxy event whose body is that Event (the gateway area). A proxy event is answered in proxy
// shape, with the Report as its body, so API Gateway passes it back.
func (p *Probe) HandleAny(ctx context.Context, raw json.RawMessage) (any, error) {
	var head struct {
		HTTPMethod     *string          `json:"httpMethod"`
		RequestContext *json.RawMessage `json:"requestContext"`
	}
	if err := json.Unmarshal(raw, &head); err == nil && head.HTTPMethod != nil && head.RequestContext != nil {
		return p.handleProxy(ctx, raw)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &EventError{fmt.Sprintf("event is not a probe event: %v", err)}
	}
	return p.Handle(ctx, ev)
}

func (p *Probe) handleProxy(ctx context.Context, raw json.RawMessage) (*events.APIGatewayProxyResponse, error) {
	var req events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return proxyError(http.StatusBadRequest, "proxy event: "+err.Error()), nil
	}
	ev := Event{Schema: SchemaVersion}
	if strings.TrimSpace(req.Body) != "" {
		if err := json.Unmarshal([]byte(req.Body), &ev); err != nil {
			return proxyError(http.StatusBadRequest, "request body is not a probe event: "+err.Error()), nil
		}
	}
	seen := gatewaySeen(req)
	if ev.S3 != nil {
		// The credentials to try are the authorizer's, as a SaaS function would use them; the
		// event's own are dropped so a request without them tries none.
		ev.S3.Credentials = S3Credentials{}
		if a := req.RequestContext.Authorizer; a != nil {
			str := func(k string) string { v, _ := a[k].(string); return v }
			ev.S3.Credentials = S3Credentials{AccessKeyID: str("accessKeyId"), SecretAccessKey: str("secretAccessKey"), SessionToken: str("sessionToken")}
		}
		if !seen.AuthorizerCredentials {
			ev.S3 = nil
		} else {
			ev.S3.Mechanism = "authorizer/" + ev.S3.Mechanism
		}
	}
	rep, err := p.Handle(ctx, ev)
	if err != nil {
		return proxyError(http.StatusBadRequest, err.Error()), nil
	}
	rep.Gateway = &seen
	body, err := json.Marshal(rep)
	if err != nil {
		return proxyError(http.StatusInternalServerError, "encode report: "+err.Error()), nil
	}
	return &events.APIGatewayProxyResponse{StatusCode: http.StatusOK,
		Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, nil
}

func proxyError(status int, msg string) *events.APIGatewayProxyResponse {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return &events.APIGatewayProxyResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// clientTenantNames are header and query parameter names a client might name a tenant with.
var clientTenantNames = map[string]bool{"x-amz-tenant-id": true, "x-tenant-id": true, "tenantid": true, "tenant_id": true, "tenant": true}

func gatewaySeen(req events.APIGatewayProxyRequest) GatewaySeen {
	s := GatewaySeen{APIKeyID: req.RequestContext.Identity.APIKeyID, RequestID: req.RequestContext.RequestID}
	if a := req.RequestContext.Authorizer; len(a) > 0 {
		s.Authorizer = map[string]string{}
		for k, v := range a {
			if credentialContextKeys[k] {
				str, _ := v.(string)
				s.AuthorizerCredentials = s.AuthorizerCredentials || str != ""
				continue
			}
			s.Authorizer[k] = fmt.Sprint(v)
		}
	}
	add := func(m map[string][]string) {
		for k, vs := range m {
			if clientTenantNames[strings.ToLower(k)] {
				s.ClientTenants = append(s.ClientTenants, vs...)
			}
		}
	}
	add(req.MultiValueHeaders)
	add(req.MultiValueQueryStringParameters)
	return s
}
