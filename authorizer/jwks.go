package authorizer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// jwk is one JSON Web Key (RFC 7517) of the two kinds the authorizer verifies with: RSA for
// RS256 and P-256 EC for ES256. golang-jwt verifies signatures; it leaves reading a JWKS to the
// caller, and these few fields are all a public key needs.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

type publicKey struct {
	kid string
	alg string // RS256 or ES256
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
}

type keySet []publicKey

// parseJWKS reads {"keys": [...]}; every key must be usable, so a typo is an error at start-up
// and never a token refused later for a reason nobody sees.
func parseJWKS(raw json.RawMessage) (keySet, error) {
	if len(raw) == 0 {
		return nil, errors.New("jwks is missing: give the public keys tokens are signed with")
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("jwks does not parse: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New(`jwks has no keys: want {"keys": [...]}`)
	}
	out := make(keySet, 0, len(set.Keys))
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("jwks key %d (%q): use %q, want sig", i, k.Kid, k.Use)
		}
		pk, err := k.public()
		if err != nil {
			return nil, fmt.Errorf("jwks key %d (%q): %w", i, k.Kid, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

func b64(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%s is not base64url: %q", field, s)
	}
	return b, nil
}

func (k jwk) public() (publicKey, error) {
	switch k.Kty {
	case "RSA":
		if k.Alg != "" && k.Alg != "RS256" {
			return publicKey{}, fmt.Errorf("alg %q: an RSA key verifies RS256 here", k.Alg)
		}
		n, err := b64("n", k.N)
		if err != nil {
			return publicKey{}, err
		}
		e, err := b64("e", k.E)
		if err != nil {
			return publicKey{}, err
		}
		if len(e) > 4 {
			return publicKey{}, errors.New("e is too large")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		mod := new(big.Int).SetBytes(n)
		if mod.BitLen() < 2048 || exp < 3 || exp%2 == 0 {
			return publicKey{}, fmt.Errorf("an RSA key of %d bits with exponent %d is too weak", mod.BitLen(), exp)
		}
		return publicKey{kid: k.Kid, alg: "RS256", key: &rsa.PublicKey{N: mod, E: exp}}, nil
	case "EC":
		if k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") {
			return publicKey{}, fmt.Errorf("crv %q alg %q: an EC key must be P-256 for ES256", k.Crv, k.Alg)
		}
		x, err := b64("x", k.X)
		if err != nil {
			return publicKey{}, err
		}
		y, err := b64("y", k.Y)
		if err != nil {
			return publicKey{}, err
		}
		if len(x) != 32 || len(y) != 32 {
			return publicKey{}, errors.New("x and y must be 32 bytes each for P-256")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return publicKey{}, fmt.Errorf("not a point on P-256: %w", err)
		}
		return publicKey{kid: k.Kid, alg: "ES256", key: pub}, nil
	}
	return publicKey{}, fmt.Errorf("kty %q: want RSA or EC", k.Kty)
}

// keyFunc picks the key a token names (kid), or the only key when the set has one; the key's
// algorithm must be the token's, so an RSA key is never used to check an HMAC or EC signature.
func (ks keySet) keyFunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	var pick *publicKey
	switch {
	case kid != "":
		for i := range ks {
			if ks[i].kid == kid {
				pick = &ks[i]
				break
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("no key %q in the JWKS", kid)
		}
	case len(ks) == 1:
		pick = &ks[0]
	default:
		return nil, errors.New("the token names no key (kid) and the JWKS has several")
	}
	if t.Method.Alg() != pick.alg {
		return nil, fmt.Errorf("key %q verifies %s, the token is %s", pick.kid, pick.alg, t.Method.Alg())
	}
	return pick.key, nil
}

// PublicJWK renders an ES256 or RS256 public key as a JWK, so a runner can give the authorizer
// the key it signs with.
func PublicJWK(kid string, pub any) (json.RawMessage, error) {
	var k jwk
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := p.Bytes()
		if err != nil || len(raw) != 65 || p.Curve != elliptic.P256() {
			return nil, errors.New("want a P-256 key")
		}
		k = jwk{Kty: "EC", Crv: "P-256", Alg: "ES256", X: base64.RawURLEncoding.EncodeToString(raw[1:33]), Y: base64.RawURLEncoding.EncodeToString(raw[33:])}
	case *rsa.PublicKey:
		k = jwk{Kty: "RSA", Alg: "RS256", N: base64.RawURLEncoding.EncodeToString(p.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	default:
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
	k.Kid, k.Use = kid, "sig"
	return json.Marshal(k)
}
