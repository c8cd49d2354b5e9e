package auth

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
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strings"
	"time"

	"kanzleisync/app/text"
	"software.sslmate.com/src/go-pkcs12"

	"kanzleisync/platform/keyring"
)

// A certificate credential (Entra: "Certificates & secrets" → "Certificates"):
// the app proves itself with a JWT signed by its private key (RFC 7523,
// private_key_jwt) instead of sending a client secret. The key never leaves
// the keyring; the firm uploads only the public certificate. Entra's
// documented assertion: header alg PS256, typ JWT, x5t#S256 (the base64url
// SHA-256 of the certificate's DER); claims aud (the token endpoint), iss
// and sub (the client id), jti (unique), nbf, iat and a short exp.

// CertificateKey is the keyring entry of an entity's certificate
// credential: its private key and certificate, PEM.
func CertificateKey(entity string) string { return "entity/" + entity + "/certificate" }

// ErrNoCertificate: no certificate credential is stored for the entity.
var ErrNoCertificate = errors.New("no certificate credential stored")

// assertionType is the client_assertion_type of a signed JWT (RFC 7523).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime: Entra sets no limit, its documentation asks for a
// few minutes after nbf.
const assertionLifetime = 5 * time.Minute

// Certificate is an entity's certificate credential.
type Certificate struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewCertificate makes a key pair (RSA 2048, what the Azure portal takes)
// and a self-signed certificate valid from now for validity.
func NewCertificate(name string, now time.Time, validity time.Duration) (*Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("make the key pair: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "kanzleisync " + name},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(validity), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Certificate{Cert: cert, Key: key}, nil
}

// ParseCertificatePEM reads a private key (PKCS#8 or PKCS#1) and its
// certificate from PEM, in any order.
func ParseCertificatePEM(data []byte) (*Certificate, error) {
	c := &Certificate{}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if c.Cert == nil {
				cert, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, text.Errorf("Das Zertifikat ist nicht lesbar: %w", err)
				}
				c.Cert = cert
			}
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, text.Errorf("Der private Schlüssel ist nicht lesbar: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, text.New("Der private Schlüssel ist kein RSA-Schlüssel; Entra ID nimmt für Zertifikate RSA.")
			}
			c.Key = rk
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, text.Errorf("Der private Schlüssel ist nicht lesbar: %w", err)
			}
			c.Key = k
		}
	}
	switch {
	case c.Cert == nil:
		return nil, text.New("In der Datei ist kein Zertifikat (PEM-Block „CERTIFICATE“).")
	case c.Key == nil:
		return nil, text.New("In der Datei ist kein privater Schlüssel (PEM-Block „PRIVATE KEY“); ohne ihn kann kanzleisync sich nicht ausweisen.")
	}
	pub, ok := c.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&c.Key.PublicKey) {
		return nil, text.New("Privater Schlüssel und Zertifikat gehören nicht zusammen.")
	}
	return c, nil
}

// ErrPFXPassword: the password does not open the PFX file.
var ErrPFXPassword = text.New("Das Passwort der PFX-Datei ist falsch.")

// ParseCertificatePFX reads a key and its certificate from a PFX (PKCS#12)
// file, as Windows and most CAs export them, with its password.
func ParseCertificatePFX(data []byte, password string) (*Certificate, error) {
	key, cert, _, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, ErrPFXPassword
	case err != nil:
		// the decoder's ASN.1 details help nobody at the firm
		return nil, text.New("Die Datei ist weder PEM noch eine lesbare PFX-Datei (PKCS#12) mit Schlüssel und Zertifikat.")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, text.New("Der private Schlüssel ist kein RSA-Schlüssel; Entra ID nimmt für Zertifikate RSA.")
	}
	return ParseCertificatePEM(append(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...))
}

// PEM is the key and the certificate as they are kept in the keyring.
func (c *Certificate) PEM() []byte {
	key, _ := x509.MarshalPKCS8PrivateKey(c.Key)
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})...)
}

// Thumbprint is the x5t#S256 of the certificate: base64url SHA-256 of its DER.
func (c *Certificate) Thumbprint() string {
	sum := sha256.Sum256(c.Cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SHA1Thumbprint is the certificate's SHA-1 thumbprint as Microsoft Graph
// names an uploaded certificate (keyCredential.customKeyIdentifier, base64).
func (c *Certificate) SHA1Thumbprint() string {
	sum := sha1.Sum(c.Cert.Raw)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Assertion is the signed JWT that authenticates clientID at the token
// endpoint audience, valid from now for a few minutes.
func (c *Certificate) Assertion(clientID, audience string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	header, _ := json.Marshal(map[string]string{"alg": "PS256", "typ": "JWT", "x5t#S256": c.Thumbprint()})
	claims, _ := json.Marshal(map[string]any{"aud": audience, "iss": clientID, "sub": clientID,
		"jti": fmt.Sprintf("%x-%x-%x-%x-%x", jti[0:4], jti[4:6], jti[6:8], jti[8:10], jti[10:]),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(assertionLifetime).Unix()})
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPSS(rand.Reader, c.Key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// SetCertificate stores an entity's certificate credential in the keyring;
// from then on the app proves itself with it instead of the secret.
func (m *Manager) SetCertificate(entity string, c *Certificate) error {
	if err := m.secrets.Set(CertificateKey(entity), string(c.PEM())); err != nil {
		return fmt.Errorf("store the certificate of %s: %w", entity, err)
	}
	m.mu.Lock()
	delete(m.apps, entity)
	m.mu.Unlock()
	return nil
}

// CertificateFile is the file name of an entity's public certificate.
func CertificateFile(entity string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>:"/\|?* `, r) {
			return '-'
		}
		return r
	}, entity) + ".cer"
}

// CreateCertificate makes the entity's certificate credential, valid for
// validity from now: its public part (DER, what the Azure portal uploads)
// goes to path, key and certificate into the keyring. A step that fails
// leaves neither.
func (m *Manager) CreateCertificate(entity string, now time.Time, validity time.Duration, path string) (*Certificate, error) {
	c, err := NewCertificate(entity, now, validity)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, c.Cert.Raw, 0o644); err != nil {
		return nil, text.Errorf("Die Datei %s kann nicht geschrieben werden: %w", path, err)
	}
	if err := m.SetCertificate(entity, c); err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return c, nil
}

// RemoveCredentials deletes the entity's certificate and client secret
// from this installation's keyring (a workstation of a public client
// registration holds neither).
func (m *Manager) RemoveCredentials(entity string) error {
	for _, k := range []string{CertificateKey(entity), SecretKey(entity)} {
		if err := m.secrets.Delete(k); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return fmt.Errorf("remove the credentials of %s: %w", entity, err)
		}
	}
	m.mu.Lock()
	delete(m.apps, entity)
	m.mu.Unlock()
	return nil
}

// Certificate is an entity's stored certificate credential
// (ErrNoCertificate when there is none).
func (m *Manager) Certificate(entity string) (*Certificate, error) {
	s, err := m.secrets.Get(CertificateKey(entity))
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, ErrNoCertificate
	}
	if err != nil {
		return nil, fmt.Errorf("read the certificate of %s: %w", entity, err)
	}
	return ParseCertificatePEM([]byte(s))
}

// credential is how the app proves itself at the token endpoint: the
// certificate when one is stored (preferred), else the client secret; a
// public client (Entra: "Mobile and desktop applications") proves nothing
// but PKCE and is sent neither.
type credential struct {
	clientID string
	secret   string
	cert     *Certificate
}

// credential is what this installation holds for the entity. A sign-in
// (delegated) without either goes as a public client — what a workstation
// does when the firm registered the app so, storing no credential at all;
// an app token (application permissions) needs one.
func (m *Manager) credential(entity, clientID string, delegated bool) (credential, error) {
	cert, err := m.Certificate(entity)
	if err == nil {
		return credential{clientID: clientID, cert: cert}, nil
	}
	if !errors.Is(err, ErrNoCertificate) {
		return credential{}, err
	}
	secret, err := m.clientSecret(entity)
	if errors.Is(err, ErrNoSecret) && delegated {
		return credential{clientID: clientID}, nil
	}
	if err != nil {
		return credential{}, err
	}
	return credential{clientID: clientID, secret: secret}, nil
}

// apply adds the credential to a token request for tokenURL.
func (c credential) apply(form url.Values, tokenURL string, now time.Time) error {
	form.Del("client_secret")
	switch {
	case c.cert == nil && c.secret == "":
		return nil // a public client
	case c.cert == nil:
		form.Set("client_secret", c.secret)
		return nil
	}
	a, err := c.cert.Assertion(c.clientID, tokenURL, now)
	if err != nil {
		return err
	}
	form.Set("client_assertion_type", assertionType)
	form.Set("client_assertion", a)
	return nil
}
