// Package authorizer is the Lambda authorizer that ships with tenantcheck: the tenantcheck binary,
// started as a Lambda runtime with TENANTCHECK_ROLE=authorizer, verifies the caller's JWT against
// keys given inline in its configuration (never fetched), takes the tenant from a claim, and
// answers API Gateway with an Allow policy for the stage, the tenant in its context, the tenant's
// API key as its usage identifier and, when configured, short-lived STS credentials scoped to the
// tenant by a session policy. It is the authorizer of the talk this project follows, built so the
// gateway area can run that whole flow end to end, and so its named faults can break each step.
package authorizer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// RoleEnv selects the authorizer over the probe when set to RoleValue.
	RoleEnv   = "TENANTCHECK_ROLE"
	RoleValue = "authorizer"
	// ConfigEnv holds the Config as JSON.
	ConfigEnv = "TENANTCHECK_AUTHORIZER_CONFIG"
	// FaultsEnv lists the authorizer faults in force, comma-separated; the built-in target sets
	// it (see docs/FAULTS.md).
	FaultsEnv = "TENANTCHECK_AUTHORIZER_FAULTS"
)

// Fault names the authorizer knows; the built-in target registers them.
const (
	FaultNoSignatureCheck = "no-signature-check"
	FaultSharedAPIKey     = "shared-api-key"
	FaultBroadCredentials = "authorizer-broad-credentials"
)

// Config is what the authorizer is told at deploy time.
type Config struct {
	// JWKS is a JSON Web Key Set ({"keys": [...]}) of RS256 and ES256 public keys.
	JWKS json.RawMessage `json:"jwks"`
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string `json:"issuer,omitempty"`
	Audience string `json:"audience,omitempty"`
	// TenantClaim names the claim that holds the tenant; default "tenant_id".
	TenantClaim string `json:"tenantClaim,omitempty"`
	// UsageKeyClaim names the claim that holds the tenant's API key value; a token without it
	// is counted against DefaultUsageKey.
	UsageKeyClaim   string `json:"usageKeyClaim,omitempty"`
	DefaultUsageKey string `json:"defaultUsageKey,omitempty"`
	// Credentials, when set, makes the authorizer mint tenant-scoped credentials with STS.
	Credentials *CredentialsConfig `json:"credentials,omitempty"`
}

// CredentialsConfig is how the authorizer reaches STS and what it asks for.
type CredentialsConfig struct {
	// Endpoint overrides the STS endpoint (a local STS); empty uses AWS's.
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	RoleArn  string `json:"roleArn"`
	// DurationSeconds is the credentials' lifetime; default 900, STS's minimum.
	DurationSeconds int32 `json:"durationSeconds,omitempty"`
	// PolicyTemplate is the session policy, with every {{tenant}} replaced by the tenant.
	PolicyTemplate string `json:"policyTemplate"`
	// AccessKeyID and SecretAccessKey are the authorizer's own credentials for STS; empty takes
	// the function's (AWS_ACCESS_KEY_ID...), as on Lambda.
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
}

// Validate checks a configuration the way the authorizer will at its start, so a deployer
// refuses a JWKS that does not parse, or a policy template that is not JSON, with the reason,
// instead of deploying an authorizer that exits on every cold start.
func (c Config) Validate() error {
	_, err := newVerifier(c, "")
	return err
}

// Selected reports whether this process is the authorizer: a Lambda runtime started it with
// RoleEnv set to RoleValue.
func Selected() bool {
	return os.Getenv(RoleEnv) == RoleValue && os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
}

// tenantPattern is Lambda's tenant ID (X-Amz-Tenant-Id): what the authorizer will pass on.
var tenantPattern = regexp.MustCompile(`^[a-zA-Z0-9._:/=+\-@ ]{1,256}$`)

// verifier checks tokens and says whose they are.
type verifier struct {
	cfg    Config
	keys   keySet
	faults map[string]bool
}

func newVerifier(cfg Config, faults string) (*verifier, error) {
	keys, err := parseJWKS(cfg.JWKS)
	if err != nil {
		return nil, fmt.Errorf("authorizer: %s: %w", ConfigEnv, err)
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "tenant_id"
	}
	if c := cfg.Credentials; c != nil {
		if c.RoleArn == "" || c.PolicyTemplate == "" {
			return nil, fmt.Errorf("authorizer: %s: credentials need roleArn and policyTemplate", ConfigEnv)
		}
		if !json.Valid([]byte(strings.ReplaceAll(c.PolicyTemplate, "{{tenant}}", "t"))) {
			return nil, fmt.Errorf("authorizer: %s: policyTemplate is not JSON", ConfigEnv)
		}
	}
	v := &verifier{cfg: cfg, keys: keys, faults: map[string]bool{}}
	for _, f := range strings.Split(faults, ",") {
		if f = strings.TrimSpace(f); f != "" {
			v.faults[f] = true
		}
	}
	return v, nil
}

// identity is what a verified token says.
type identity struct {
	tenant, subject, usageKey string
}

// errUnauthorized is the one error API Gateway turns into 401: any other answer from an
// authorizer is a 500, which would tell a forger nothing but tell a user their authorizer broke.
var errUnauthorized = errors.New("Unauthorized")

// verify checks token (with or without "Bearer ") and returns whose it is, or errUnauthorized
// with why for the log.
func (v *verifier) verify(token string) (identity, string, error) {
	token = strings.TrimSpace(token)
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		return identity{}, "no token", errUnauthorized
	}
	claims := jwt.MapClaims{}
	if v.faults[FaultNoSignatureCheck] {
		// The fault: the token is decoded, never verified; any signature, key, lifetime or
		// audience passes.
		if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
			return identity{}, "undecodable token: " + err.Error(), errUnauthorized
		}
	} else {
		opts := []jwt.ParserOption{
			jwt.WithValidMethods([]string{"RS256", "ES256"}),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(0),
		}
		if v.cfg.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
		}
		if v.cfg.Audience != "" {
			opts = append(opts, jwt.WithAudience(v.cfg.Audience))
		}
		tok, err := jwt.ParseWithClaims(token, claims, v.keys.keyFunc, opts...)
		if err != nil {
			return identity{}, "token refused: " + err.Error(), errUnauthorized
		}
		if _, crit := tok.Header["crit"]; crit {
			// RFC 7515 4.1.11: a header the verifier must understand; this one understands none.
			return identity{}, "token refused: it names critical header parameters (crit)", errUnauthorized
		}
	}
	tenant, _ := claims[v.cfg.TenantClaim].(string)
	if tenant == "" {
		return identity{}, fmt.Sprintf("token has no %q claim", v.cfg.TenantClaim), errUnauthorized
	}
	if !tenantPattern.MatchString(tenant) {
		// A tenant Lambda would refuse, or one that would change the meaning of the session
		// policy it is written into.
		return identity{}, fmt.Sprintf("token's %q claim %q is not a Lambda tenant ID", v.cfg.TenantClaim, tenant), errUnauthorized
	}
	id := identity{tenant: tenant, usageKey: v.cfg.DefaultUsageKey}
	id.subject, _ = claims["sub"].(string)
	if v.cfg.UsageKeyClaim != "" && !v.faults[FaultSharedAPIKey] {
		if k, _ := claims[v.cfg.UsageKeyClaim].(string); k != "" {
			id.usageKey = k
		}
	}
	return id, "", nil
}

// AuthorizationIDKey is the context entry that names each authorization decision.
const AuthorizationIDKey = "authorizationId"

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Response is an authorizer's answer in the shape API Gateway reads.
type Response struct {
	PrincipalID        string         `json:"principalId"`
	PolicyDocument     policyDocument `json:"policyDocument"`
	Context            map[string]any `json:"context,omitempty"`
	UsageIdentifierKey string         `json:"usageIdentifierKey,omitempty"`
}

type policyDocument struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Action   string `json:"Action"`
	Effect   string `json:"Effect"`
	Resource string `json:"Resource"`
}

// stageArn widens a method ARN (arn:...:API/STAGE/METHOD/PATH) to its stage, API/STAGE/*, so a
// cached result covers every method of the stage, as the identity source is the token alone.
func stageArn(methodArn string) (string, error) {
	parts := strings.SplitN(methodArn, "/", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "arn:") {
		return "", fmt.Errorf("methodArn %q is not an execute-api ARN", methodArn)
	}
	return parts[0] + "/" + parts[1] + "/*", nil
}

// Event is what the authorizer reads of a TOKEN or REQUEST authorizer event.
type Event struct {
	Type               string            `json:"type"`
	AuthorizationToken string            `json:"authorizationToken"`
	MethodArn          string            `json:"methodArn"`
	Headers            map[string]string `json:"headers"`
}

// token is the event's token: a TOKEN event's authorizationToken, a REQUEST event's
// Authorization header (any case).
func (e Event) token() string {
	if e.Type == "TOKEN" {
		return e.AuthorizationToken
	}
	for k, v := range e.Headers {
		if strings.EqualFold(k, "Authorization") {
			return v
		}
	}
	return ""
}

// minter hands out tenant-scoped credentials; nil when none are configured.
type minter interface {
	credentials(ctx context.Context, tenant string) (map[string]any, error)
}

// handler answers one authorizer event.
type handler struct {
	v     *verifier
	creds minter
	logf  func(format string, args ...any)
}

func (h *handler) handle(ctx context.Context, ev Event) (*Response, error) {
	id, why, err := h.v.verify(ev.token())
	if err != nil {
		h.logf("tenantcheck authorizer: %s", why)
		return nil, err
	}
	resource, err := stageArn(ev.MethodArn)
	if err != nil {
		return nil, err
	}
	principal := id.subject
	if principal == "" {
		principal = id.tenant
	}
	resp := &Response{
		PrincipalID: principal,
		PolicyDocument: policyDocument{Version: "2012-10-17", Statement: []statement{
			{Action: "execute-api:Invoke", Effect: "Allow", Resource: resource}}},
		// authorizationId names this decision: a request answered from API Gateway's cache
		// carries the ID of the decision it reuses, which is how a caller sees the cache work.
		Context:            map[string]any{"tenantId": id.tenant, AuthorizationIDKey: randomID()},
		UsageIdentifierKey: id.usageKey,
	}
	if h.creds != nil {
		c, err := h.creds.credentials(ctx, id.tenant)
		if err != nil {
			// Not Unauthorized: the caller is who they say; the authorizer could not do its job.
			return nil, fmt.Errorf("tenant credentials: %w", err)
		}
		for k, v := range c {
			resp.Context[k] = v
		}
	}
	return resp, nil
}

// expiresIn formats a credentials' expiry for the context (strings, numbers and booleans only).
func expiresIn(t time.Time) string { return t.UTC().Format(time.RFC3339) }
