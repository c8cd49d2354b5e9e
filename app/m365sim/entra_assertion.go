package m365sim

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Certificate credentials (private_key_jwt), as Entra documents them in
// "Microsoft identity platform application authentication certificate
// credentials": the client sends client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a JWT signed
// with the key of a certificate uploaded to the registration (header alg
// PS256 or RS256, x5t#S256 the base64url SHA-256 of the certificate's DER;
// claims aud = the token endpoint, iss = sub = the client id, jti, nbf,
// exp). Errors are Entra's: AADSTS700027 (signature, or a certificate the
// app does not have), AADSTS700024 (outside nbf/exp), AADSTS700021 (iss/sub
// not the client id), AADSTS700023 (wrong audience), AADSTS7000274 (an
// expired certificate). An assertion is good for one token request: Entra
// requires a jti ("a GUID") and, as RFC 7523 §3 allows, refuses a second
// request with the same one. Entra documents no code of its own for a
// replay; the emulator answers AADSTS50013 InvalidAssertion, whose
// documented reasons ("assertion is invalid because of various reasons")
// cover it, as it does for an assertion without a jti.

// Certificate is a public certificate uploaded to an app registration
// ("Certificates & secrets" → "Certificates" → "Upload certificate").
type Certificate struct {
	// DER is the certificate as uploaded (.cer), base64 in JSON.
	DER []byte `json:"der"`
}

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AddCertificate uploads a certificate (DER) to the registration clientID,
// as the Azure portal does.
func (s *Server) AddCertificate(clientID string, der []byte) error {
	if _, err := x509.ParseCertificate(der); err != nil {
		return fmt.Errorf("not a certificate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tenants {
		if a := t.apps[strings.ToLower(clientID)]; a != nil {
			a.Certificates = append(a.Certificates, Certificate{DER: der})
			return nil
		}
	}
	return fmt.Errorf("unknown app %q", clientID)
}

func errAssertionSignature(clientID string) *entraErr {
	return &entraErr{401, "invalid_client", 700027, fmt.Sprintf("Client assertion failed signature validation. The certificate used to sign the assertion is not registered on application '%s', or the signature is invalid.", clientID)}
}

func errAssertionTime(now time.Time, nbf, exp int64) *entraErr {
	return &entraErr{401, "invalid_client", 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
		now.UTC().Format(time.RFC3339), time.Unix(nbf, 0).UTC().Format(time.RFC3339), time.Unix(exp, 0).UTC().Format(time.RFC3339))}
}

func errAssertionSubject() *entraErr {
	return &entraErr{400, "invalid_request", 700021, "Client assertion application identifier doesn't match 'client_id' parameter."}
}

func errAssertionAudience(got, want string) *entraErr {
	return &entraErr{400, "invalid_client", 700023, fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Audience: '%s', expected '%s'.", got, want)}
}

func errAssertionReplayed() *entraErr {
	return &entraErr{401, "invalid_client", 50013, "Assertion failed signature validation. [Reason - The assertion has already been used (jti replay) or carries no jti claim.]"}
}

func errCertificateExpired(clientID string) *entraErr {
	return &entraErr{401, "invalid_client", 7000274, fmt.Sprintf("The certificate used to sign the client assertion for app '%s' has expired.", clientID)}
}

// checkAssertion authenticates a client by its signed assertion. Caller holds s.mu.
func (s *Server) checkAssertion(r *http.Request, a *appState, assertion string) *entraErr {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errAssertionSignature(a.ClientID)
	}
	var header struct {
		Alg     string `json:"alg"`
		X5tS256 string `json:"x5t#S256"`
	}
	var claims struct {
		Aud, Iss, Sub, Jti string
		Nbf, Exp           int64
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil {
		return errAssertionSignature(a.ClientID)
	}
	var cert *x509.Certificate
	for _, c := range a.Certificates {
		sum := sha256.Sum256(c.DER)
		if base64.RawURLEncoding.EncodeToString(sum[:]) == header.X5tS256 {
			cert, _ = x509.ParseCertificate(c.DER)
		}
	}
	pub, ok := certKey(cert)
	if !ok {
		return errAssertionSignature(a.ClientID)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errAssertionSignature(a.ClientID)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch header.Alg {
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	default:
		return errAssertionSignature(a.ClientID)
	}
	if err != nil {
		return errAssertionSignature(a.ClientID)
	}
	now := s.now()
	if !now.Before(cert.NotAfter) {
		return errCertificateExpired(a.ClientID)
	}
	// Entra allows a few minutes of clock skew
	const skew = 5 * time.Minute
	if claims.Exp == 0 || now.After(time.Unix(claims.Exp, 0).Add(skew)) || claims.Nbf != 0 && now.Add(skew).Before(time.Unix(claims.Nbf, 0)) {
		return errAssertionTime(now, claims.Nbf, claims.Exp)
	}
	if !strings.EqualFold(claims.Iss, a.ClientID) || !strings.EqualFold(claims.Sub, a.ClientID) {
		return errAssertionSubject()
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	if want := scheme + r.Host + r.URL.Path; !strings.EqualFold(strings.TrimSuffix(claims.Aud, "/"), want) {
		return errAssertionAudience(claims.Aud, want)
	}
	// one request per assertion; a jti is remembered until its assertion
	// could no longer be used anyway
	key := strings.ToLower(a.ClientID) + "|" + claims.Jti
	for k, until := range s.jtis {
		if now.After(until) {
			delete(s.jtis, k)
		}
	}
	if _, seen := s.jtis[key]; seen || claims.Jti == "" {
		return errAssertionReplayed()
	}
	s.jtis[key] = time.Unix(claims.Exp, 0).Add(skew)
	return nil
}

func certKey(c *x509.Certificate) (*rsa.PublicKey, bool) {
	if c == nil {
		return nil, false
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	return k, ok
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
