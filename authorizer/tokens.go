package authorizer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer mints the tokens a run sends through the gateway: valid ones for each tenant, and each
// kind of broken one the gateway area expects to be refused. Its private key never leaves the
// runner; the authorizer gets the public half (JWKS).
type Issuer struct {
	kid      string
	key      *ecdsa.PrivateKey
	issuer   string
	audience string
	// TenantClaim and UsageKeyClaim are the claims tokens carry; the authorizer is configured
	// with the same names (Config).
	TenantClaim, UsageKeyClaim string
}

// NewIssuer makes a fresh ES256 signing key.
func NewIssuer(issuer, audience string) (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authorizer: signing key: %w", err)
	}
	return &Issuer{kid: "tenantcheck-" + time.Now().UTC().Format("20060102T150405"), key: key,
		issuer: issuer, audience: audience, TenantClaim: "tenant_id", UsageKeyClaim: "usage_key"}, nil
}

// JWKS is the public key set the authorizer verifies with.
func (is *Issuer) JWKS() (json.RawMessage, error) {
	k, err := PublicJWK(is.kid, &is.key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(`{"keys":[` + string(k) + `]}`), nil
}

// Config is the authorizer configuration that accepts this issuer's tokens.
func (is *Issuer) Config(defaultUsageKey string) (Config, error) {
	jwks, err := is.JWKS()
	if err != nil {
		return Config{}, err
	}
	return Config{JWKS: jwks, Issuer: is.issuer, Audience: is.audience, TenantClaim: is.TenantClaim,
		UsageKeyClaim: is.UsageKeyClaim, DefaultUsageKey: defaultUsageKey}, nil
}

func (is *Issuer) claims(tenant, usageKey string, now time.Time) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": is.issuer, "aud": is.audience, "sub": "user-of-" + tenant,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		is.TenantClaim: tenant,
	}
	if usageKey != "" {
		c[is.UsageKeyClaim] = usageKey
	}
	return c
}

func (is *Issuer) sign(c jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = is.kid
	s, err := t.SignedString(is.key)
	if err != nil {
		return "", fmt.Errorf("authorizer: sign token: %w", err)
	}
	return s, nil
}

// Token is a valid token for tenant, counted against usageKey ("" for the default key).
func (is *Issuer) Token(tenant, usageKey string) (string, error) {
	return is.sign(is.claims(tenant, usageKey, time.Now()))
}

// Broken names a way a token must be refused.
type Broken string

const (
	BrokenUnsigned    Broken = "unsigned"      // alg none
	BrokenExpired     Broken = "expired"       // exp in the past
	BrokenNotYetValid Broken = "not-yet-valid" // nbf in the future
	BrokenWrongKey    Broken = "wrong-key"     // signed by a key the authorizer does not know, same kid
	BrokenAudience    Broken = "wrong-audience"
	BrokenTampered    Broken = "tampered-tenant" // a valid token of tenant with its tenant claim changed
)

// AllBroken lists every kind, in the order checks report them.
func AllBroken() []Broken {
	return []Broken{BrokenUnsigned, BrokenExpired, BrokenNotYetValid, BrokenWrongKey, BrokenAudience, BrokenTampered}
}

// BrokenToken is a token of kind for tenant; for BrokenTampered, the tenant claim of a valid
// token of tenant is rewritten to other without re-signing.
func (is *Issuer) BrokenToken(kind Broken, tenant, other, usageKey string) (string, error) {
	now := time.Now()
	c := is.claims(tenant, usageKey, now)
	switch kind {
	case BrokenUnsigned:
		t := jwt.NewWithClaims(jwt.SigningMethodNone, c)
		t.Header["kid"] = is.kid
		return t.SignedString(jwt.UnsafeAllowNoneSignatureType)
	case BrokenExpired:
		c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case BrokenNotYetValid:
		c["nbf"] = now.Add(time.Hour).Unix()
		c["exp"] = now.Add(2 * time.Hour).Unix()
	case BrokenAudience:
		c["aud"] = is.audience + "-elsewhere"
	case BrokenWrongKey:
		other, err := NewIssuer(is.issuer, is.audience)
		if err != nil {
			return "", err
		}
		other.kid = is.kid
		return other.sign(c)
	case BrokenTampered:
		good, err := is.sign(c)
		if err != nil {
			return "", err
		}
		return retenant(good, is.TenantClaim, other)
	default:
		return "", fmt.Errorf("authorizer: unknown broken token %q", kind)
	}
	return is.sign(c)
}

// retenant rewrites a signed token's tenant claim, keeping its header and signature: what a
// caller who edits their own token sends.
func retenant(token, claim, tenant string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("authorizer: not a JWS: %q", token)
	}
	raw, err := jwt.NewParser().DecodeSegment(parts[1])
	if err != nil {
		return "", fmt.Errorf("authorizer: decode claims: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("authorizer: decode claims: %w", err)
	}
	c[claim] = tenant
	js, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	parts[1] = (&jwt.Token{}).EncodeSegment(js)
	return strings.Join(parts, "."), nil
}
