package m365sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strings"
	"time"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

// randBytes draws from the seeded generator so that a run is repeatable.
// Caller holds s.mu.
func (s *Server) randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	return b
}

// newGUID returns a version-4 GUID. Caller holds s.mu.
func (s *Server) newGUID() string {
	b := s.randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newItemID returns an Exchange-style item id ("AAMkAD…="). Caller holds s.mu.
func (s *Server) newItemID() string {
	return "AAMkAD" + base64.URLEncoding.EncodeToString(s.randBytes(66))
}

// newOpaque returns an opaque credential (code, refresh token). Caller holds s.mu.
// Codes and refresh tokens are credentials, so they mix in crypto/rand: a
// seed must not make them guessable.
func (s *Server) newOpaque(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// newChangeKey returns a fresh change key for @odata.etag. Caller holds s.mu.
func (s *Server) newChangeKey() string {
	return base64.StdEncoding.EncodeToString(s.randBytes(18))
}

// selfSignedTLS makes the certificate of the POP3 and SMTP services, valid
// for 127.0.0.1 and localhost.
func selfSignedTLS(now time.Time) (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate TLS key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "outlook.office365.com (m365sim)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", "outlook.office365.com", "smtp.office365.com"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create TLS certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, certPEM, nil
}

func formatGUID(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newUIDL returns a POP3 unique-id. Exchange never hands out one twice in a
// mailbox, also not after a restart; the seeded generator alone would
// repeat them in every new emulator, so an instance-wide random part (from
// crypto/rand, made at start) comes first. Caller holds s.mu.
func (s *Server) newUIDL() string {
	return strings.TrimRight(base64.URLEncoding.EncodeToString(append(append([]byte(nil), s.uidlSalt[:]...), s.randBytes(18)...)), "=")
}
