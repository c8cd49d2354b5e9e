package m365sim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// signer holds the RSA key that signs every token the emulator issues, and
// the self-signed certificate that the keys endpoint publishes in x5c.
type signer struct {
	key     *rsa.PrivateKey
	kid     string
	certDER []byte
}

func newSigner(now time.Time) (*signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return signerFromKey(key, now)
}

func signerFromKey(key *rsa.PrivateKey, now time.Time) (*signer, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "accounts.m365sim.invalid"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create signing certificate: %w", err)
	}
	// Entra's kid is the base64url SHA-1 thumbprint (x5t) of the certificate.
	// The emulator derives it from the public key instead, so that a key
	// loaded from the state file keeps its kid although its certificate is
	// made anew.
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(pubDER)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	return &signer{key: key, kid: kid, certDER: der}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign returns a compact RS256 JWS of the claims.
func (s *signer) sign(claims map[string]any) (string, error) {
	header := map[string]any{"typ": "JWT", "alg": "RS256", "x5t": s.kid, "kid": s.kid}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// errToken* say why a bearer token was refused.
var (
	errTokenMalformed = errors.New("token is not a well-formed JWT")
	errTokenSignature = errors.New("token signature is invalid")
	errTokenExpired   = errors.New("token is expired")
	errTokenNotYet    = errors.New("token is not yet valid")
)

// verify checks signature and lifetime and returns the claims.
func (s *signer) verify(token string, now time.Time) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errTokenMalformed
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errTokenMalformed
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hb, &header) != nil {
		return nil, errTokenMalformed
	}
	if header.Alg != "RS256" || header.Kid != s.kid {
		return nil, errTokenSignature
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return nil, errTokenSignature
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(cb)))
	dec.UseNumber()
	if dec.Decode(&claims) != nil {
		return nil, errTokenMalformed
	}
	exp, _ := claimInt(claims, "exp")
	nbf, _ := claimInt(claims, "nbf")
	// Graph tolerates a few minutes of clock skew.
	const skew = 5 * 60
	if now.Unix() > exp+skew {
		return claims, errTokenExpired
	}
	if now.Unix()+skew < nbf {
		return claims, errTokenNotYet
	}
	return claims, nil
}

func claimInt(c map[string]any, name string) (int64, bool) {
	switch v := c[name].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case float64:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

func claimString(c map[string]any, name string) string {
	s, _ := c[name].(string)
	return s
}

// jwks is the document of /{tenant}/discovery/v2.0/keys.
func (s *signer) jwks(issuer string) map[string]any {
	pub := s.key.PublicKey
	return map[string]any{"keys": []any{map[string]any{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    s.kid,
		"x5t":    s.kid,
		"n":      b64(pub.N.Bytes()),
		"e":      b64(big.NewInt(int64(pub.E)).Bytes()),
		"x5c":    []string{base64.StdEncoding.EncodeToString(s.certDER)},
		"issuer": issuer,
	}}}
}
