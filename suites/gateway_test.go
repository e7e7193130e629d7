package suites

import (
	"testing"
	"time"

	"github.com/tenantcheck/tenantcheck/probes"
	"github.com/tenantcheck/tenantcheck/reports"
	"github.com/tenantcheck/tenantcheck/runner"
)

func gwObs(reqs []runner.GatewayRequest, nn *runner.NoisyNeighbour) *runner.Observations {
	return &runner.Observations{Gateway: &runner.GatewayObservations{Requests: reqs, Noisy: nn}}
}

func ok(c, token string) runner.GatewayRequest {
	return runner.GatewayRequest{Case: c, TokenTenant: token, Status: 200, Reached: token, EnvID: "env-" + token}
}

func withAuth(r runner.GatewayRequest, id string) runner.GatewayRequest {
	r.AuthID = id
	return r
}

func TestGatewayEvaluators(t *testing.T) {
	spoofed := ok("spoof/x-tenant-id", "a")
	spoofed.Spoof, spoofed.Reached = "b", "b"
	goodSpoof := ok("spoof/x-tenant-id", "a")
	goodSpoof.Spoof = "b"
	refused := func(kind string) runner.GatewayRequest {
		return runner.GatewayRequest{Case: "token/" + kind, TokenTenant: "a", Status: 401}
	}
	accepted := ok("token/tampered-tenant", "a")
	accepted.Claimed, accepted.Reached = "b", "b"
	crossed := ok("cache/2", "b")
	crossed.Reached = "a"
	nn := func(noisyOK, noisy429, quiet429, quietOther int) *runner.NoisyNeighbour {
		return &runner.NoisyNeighbour{Rate: 0.1, Burst: 3, Duration: 2 * time.Second,
			Noisy: runner.LoadCounts{Sent: noisyOK + noisy429, OK: noisyOK, Throttled: noisy429},
			Quiet: runner.LoadCounts{Sent: 5 + quiet429 + quietOther, OK: 5, Throttled: quiet429, Other: quietOther, Examples: []string{"500"}}}
	}
	creds := func(role string, ownAllowed, otherAllowed bool) runner.GatewayRequest {
		r := ok("creds/"+role, role)
		r.S3 = []probes.S3Attempt{{Op: "GetObject", Own: true, Allowed: ownAllowed, Tenant: role},
			{Op: "GetObject", Tenant: "other", Allowed: otherAllowed, ErrorCode: map[bool]string{false: "AccessDenied"}[otherAllowed]}}
		return r
	}
	credsObs := func(reqs ...runner.GatewayRequest) *runner.Observations { return gwObs(reqs, nil) }
	notRun := gwObs(nil, nil)
	notRun.Gateway.CredsNotRun = "no S3 service"
	tokens := []runner.GatewayRequest{refused("unsigned"), refused("expired"), refused("not-yet-valid"), refused("wrong-key"), refused("wrong-audience"), refused("tampered-tenant"), ok("token/valid", "a")}
	for _, tc := range []struct {
		name  string
		check func(*runner.Observations) reports.CheckResult
		obs   *runner.Observations
		want  reports.Status
	}{
		{"not run", evaluateSpoofs, &runner.Observations{}, reports.Skip},
		{"phase skipped", evaluateSpoofs, &runner.Observations{Gateway: runner.SkippedGateway("no front door")}, reports.Skip},
		{"spoof held", evaluateSpoofs, gwObs([]runner.GatewayRequest{ok("spoof/none", "a"), goodSpoof}, nil), reports.Pass},
		{"spoof won", evaluateSpoofs, gwObs([]runner.GatewayRequest{ok("spoof/none", "a"), spoofed}, nil), reports.Fail},
		{"spoof unjudged", evaluateSpoofs, gwObs([]runner.GatewayRequest{ok("spoof/none", "a"), {Case: "spoof/query", Status: 500}}, nil), reports.Inconclusive},
		{"nothing judged", evaluateSpoofs, gwObs([]runner.GatewayRequest{{Case: "spoof/none", Status: 429}}, nil), reports.Error},
		{"tokens refused", tokenEvaluator("unsigned", "expired"), gwObs(tokens, nil), reports.Pass},
		{"tampered accepted", tokenEvaluator("tampered-tenant"), gwObs(append(tokens[:5:5], accepted, ok("token/valid", "a")), nil), reports.Fail},
		{"no control", tokenEvaluator("unsigned"), gwObs(tokens[:6], nil), reports.Inconclusive},
		{"cache held", evaluateAuthCache, gwObs([]runner.GatewayRequest{withAuth(ok("cache/1", "a"), "d1"), withAuth(ok("cache/2", "b"), "d2"), withAuth(ok("cache/3", "a"), "d1")}, nil), reports.Pass},
		{"cache never used", evaluateAuthCache, gwObs([]runner.GatewayRequest{withAuth(ok("cache/1", "a"), "d1"), withAuth(ok("cache/2", "b"), "d2"), withAuth(ok("cache/3", "a"), "d3")}, nil), reports.Inconclusive},
		{"cache crossed", evaluateAuthCache, gwObs([]runner.GatewayRequest{ok("cache/1", "a"), crossed}, nil), reports.Fail},
		{"cache one tenant", evaluateAuthCache, gwObs([]runner.GatewayRequest{ok("cache/1", "a")}, nil), reports.Inconclusive},
		{"noisy throttled", evaluateNoisyNeighbour, gwObs(nil, nn(3, 10, 0, 0)), reports.Pass},
		{"noisy unthrottled", evaluateNoisyNeighbour, gwObs(nil, nn(19, 0, 0, 0)), reports.Fail},
		{"noisy admitted past plan", evaluateNoisyNeighbour, gwObs(nil, nn(8, 5, 0, 0)), reports.Fail},
		{"quiet throttled", evaluateNoisyNeighbour, gwObs(nil, nn(3, 10, 2, 0)), reports.Fail},
		{"quiet errors", evaluateNoisyNeighbour, gwObs(nil, nn(3, 10, 0, 2)), reports.Error},
		{"no throttle seen within the allowance", evaluateNoisyNeighbour, gwObs(nil, nn(3, 0, 0, 0)), reports.Inconclusive},
		{"noisy case missing", evaluateNoisyNeighbour, gwObs(nil, nil), reports.Error},
		{"creds scoped", evaluateAuthorizerCredentials, credsObs(creds("a", true, false), creds("b", true, false)), reports.Pass},
		{"creds broad", evaluateAuthorizerCredentials, credsObs(creds("a", true, true), creds("b", true, false)), reports.Fail},
		{"creds reach nothing", evaluateAuthorizerCredentials, credsObs(creds("a", false, false), creds("b", true, false)), reports.Inconclusive},
		{"no creds passed", evaluateAuthorizerCredentials, credsObs(ok("creds/a", "a")), reports.Error},
		{"creds failing for another reason", evaluateAuthorizerCredentials, credsObs(func() runner.GatewayRequest {
			r := creds("a", true, false)
			r.S3[1].ErrorCode = "RequestTimeout"
			return r
		}()), reports.Inconclusive},
		{"setup failed", evaluateSpoofs, &runner.Observations{Gateway: &runner.GatewayObservations{SetupError: "ImportRestApi: boom"}}, reports.Error},
		{"creds case not run", evaluateAuthorizerCredentials, notRun, reports.Skip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.check(tc.obs); got.Status != tc.want {
				t.Errorf("got %s (%s), want %s", got.Status, got.Reason, tc.want)
			}
		})
	}
}
