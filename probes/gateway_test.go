package probes

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestHandleAnyAnswersProxyEventsInProxyShape(t *testing.T) {
	p := newTestProbe(t, newRoots(t))
	body, _ := json.Marshal(Event{Schema: SchemaVersion, RunID: "run-gw", Tenant: "tenant-a", Seq: 1, SkipCanaries: true})
	for _, tc := range []struct {
		name    string
		req     events.APIGatewayProxyRequest
		status  int
		tenants []string
		creds   bool
	}{
		{"verified tenant with a spoof", events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: string(body),
			MultiValueHeaders:               map[string][]string{"X-Amz-Tenant-Id": {"tenant-b"}, "Accept": {"*/*"}},
			MultiValueQueryStringParameters: map[string][]string{"tenantId": {"tenant-c"}},
			RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{
				"tenantId": "tenant-a", "principalId": "user", "accessKeyId": "AKID", "secretAccessKey": "s", "sessionToken": "t"}}},
			200, []string{"tenant-b", "tenant-c"}, true},
		{"empty body", events.APIGatewayProxyRequest{HTTPMethod: "GET"}, 200, nil, false},
		{"body not an event", events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: "{"}, 400, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.req)
			out, err := p.HandleAny(lambdaCtx(t, "tenant-a", "req-1", 10*time.Second), raw)
			if err != nil {
				t.Fatal(err)
			}
			resp, ok := out.(*events.APIGatewayProxyResponse)
			if !ok || resp.StatusCode != tc.status {
				t.Fatalf("answer %#v, want a proxy answer with status %d", out, tc.status)
			}
			if tc.status != 200 {
				return
			}
			var rep Report
			if err := json.Unmarshal([]byte(resp.Body), &rep); err != nil {
				t.Fatal(err)
			}
			g := rep.Gateway
			if g == nil || rep.ContextTenant != "tenant-a" {
				t.Fatalf("report %+v", rep)
			}
			if len(g.ClientTenants) != len(tc.tenants) || g.AuthorizerCredentials != tc.creds {
				t.Errorf("gateway seen %+v, want client tenants %v and credentials %v", g, tc.tenants, tc.creds)
			}
			for k := range credentialContextKeys {
				if _, leaked := g.Authorizer[k]; leaked {
					t.Errorf("the report carries the credential %s", k)
				}
			}
		})
	}
	// The runner's own events still work through HandleAny.
	raw, _ := json.Marshal(Event{Schema: SchemaVersion, RunID: "run-gw", Tenant: "tenant-a", Seq: 2, SkipCanaries: true})
	out, err := p.HandleAny(lambdaCtx(t, "tenant-a", "req-2", 10*time.Second), raw)
	if rep, ok := out.(*Report); err != nil || !ok || rep.Gateway != nil {
		t.Fatalf("a plain event: %#v, %v", out, err)
	}
}
