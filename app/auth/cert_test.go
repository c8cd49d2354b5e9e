package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/platform/keyring/keyringtest"
)

// An entity with a certificate credential and no client secret at all: the
// certificate is made, its public part uploaded to the registration, the
// key kept in the keyring; the app token is obtained with a signed
// assertion, no secret travels.
func TestCertificateCredential(t *testing.T) {
	kr, _ := keyringtest.Real(t, auth.CertificateKey("Kanzlei"))
	e := newEnvWith(t, nil, m365sim.Options{}, kr, "")
	cert, err := auth.NewCertificate("Kanzlei", e.sim.Now(), 2*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.mgr.SetCertificate("Kanzlei", cert); err != nil {
		t.Fatal(err)
	}
	// not uploaded yet: Entra's 700027, said as what to do
	_, err = e.mgr.App("Kanzlei").TokenContext(context.Background())
	if a := auth.Explain(err, auth.Context{}); !strings.Contains(a.Problem, "nicht hochgeladen") || !strings.Contains(a.Fix, "Zertifikate") {
		t.Errorf("before the upload: %v → %+v", err, a)
	}
	if err := e.sim.AddCertificate(m365sim.DemoClientID, cert.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	// a new process reads it back from the keyring
	mgr := e.newManager()
	if got, err := mgr.Certificate("Kanzlei"); err != nil || got.Thumbprint() != cert.Thumbprint() {
		t.Fatalf("certificate read back: %v", err)
	}
	tok, err := mgr.App("Kanzlei").TokenContext(context.Background())
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("app token with the certificate: %v", err)
	}
	if ok, _ := mgr.HasClientSecret("Kanzlei"); ok {
		t.Error("a client secret is stored")
	}
	var sawAssertion bool
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			if strings.Contains(r.Body, "client_secret") {
				t.Errorf("a token request carried a client secret: %s", r.Body)
			}
			sawAssertion = sawAssertion || strings.Contains(r.Body, "client_assertion")
		}
	}
	if !sawAssertion {
		t.Error("no token request carried a client assertion")
	}
}

// Entra's answers to a bad assertion, each its own documented code.
func TestCertificateAssertionRefused(t *testing.T) {
	kr, _ := keyringtest.Real(t)
	e := newEnvWith(t, nil, m365sim.Options{}, kr, "")
	now := e.sim.Now()
	good, _ := auth.NewCertificate("Kanzlei", now, 24*time.Hour)
	other, _ := auth.NewCertificate("Fremd", now, 24*time.Hour)
	short, _ := auth.NewCertificate("Kurz", now, time.Hour)
	for _, c := range []*auth.Certificate{good, short} {
		if err := e.sim.AddCertificate(m365sim.DemoClientID, c.Cert.Raw); err != nil {
			t.Fatal(err)
		}
	}
	tokenURL := e.sim.URL() + "/" + m365sim.DemoTenantDomain + "/oauth2/v2.0/token"
	post := func(assertion string) (int, int) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {m365sim.DemoClientID}, "scope": {e.sim.URL() + "/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
		resp, err := http.PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Codes []int `json:"error_codes"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if len(body.Codes) == 0 {
			return resp.StatusCode, 0
		}
		return resp.StatusCode, body.Codes[0]
	}
	mk := func(c *auth.Certificate, clientID, aud string, at time.Time) string {
		a, err := c.Assertion(clientID, aud, at)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name      string
		assertion string
		code      int
	}{
		{"valid", mk(good, m365sim.DemoClientID, tokenURL, now), 0},
		{"a key the app does not have", mk(other, m365sim.DemoClientID, tokenURL, now), 700027},
		{"a forged signature", mk(good, m365sim.DemoClientID, tokenURL, now)[:100] + "x" + mk(good, m365sim.DemoClientID, tokenURL, now)[101:], 700027},
		{"expired an hour ago", mk(good, m365sim.DemoClientID, tokenURL, now.Add(-time.Hour)), 700024},
		{"not valid before tomorrow", mk(good, m365sim.DemoClientID, tokenURL, now.Add(24*time.Hour)), 700024},
		{"for another app", mk(good, "00000000-0000-0000-0000-000000000001", tokenURL, now), 700021},
		{"for another token endpoint", mk(good, m365sim.DemoClientID, "https://login.microsoftonline.com/other/oauth2/v2.0/token", now), 700023},
	} {
		status, code := post(tc.assertion)
		if code != tc.code || (tc.code == 0) != (status == 200) {
			t.Errorf("%s: HTTP %d AADSTS%d, want AADSTS%d", tc.name, status, code, tc.code)
		}
		explained(t, tc.name, code)
	}
	// an assertion is good for one request: the same one again is a replay
	once := mk(good, m365sim.DemoClientID, tokenURL, now)
	if status, code := post(once); status != 200 {
		t.Fatalf("first use: HTTP %d AADSTS%d", status, code)
	}
	if status, code := post(once); status != 401 || code != 50013 {
		t.Errorf("replayed assertion: HTTP %d AADSTS%d, want 401 AADSTS50013", status, code)
	} else {
		explained(t, "replayed", code)
	}
	// the certificate itself expires: Entra says so
	e.sim.Advance(2 * time.Hour)
	if _, code := post(mk(short, m365sim.DemoClientID, tokenURL, e.sim.Now())); code != 7000274 {
		t.Errorf("expired certificate: AADSTS%d, want 7000274", code)
	}
	explained(t, "expired certificate", 7000274)
}

// explained fails unless kanzleisync has its own words for an Entra code
// (not the generic „Anmeldung ist fehlgeschlagen“ with the code).
func explained(t *testing.T, name string, code int) {
	t.Helper()
	if code == 0 {
		return
	}
	a := auth.Explain(&auth.EntraError{Status: 401, OAuth: "invalid_client", Code: code}, auth.Context{Entity: config.Entity{Name: "Kanzlei", ClientID: m365sim.DemoClientID}})
	if a.Code != code || a.Problem == "" || a.Fix == "" || strings.HasPrefix(a.Problem, "Microsoft meldet den Fehler") {
		t.Errorf("%s: AADSTS%d not explained: %+v", name, code, a)
	}
}

// A key and certificate brought from elsewhere (PEM) are read; a key that
// does not belong to the certificate is refused in words.
func TestCertificatePEM(t *testing.T) {
	a, _ := auth.NewCertificate("A", time.Now(), time.Hour)
	b, _ := auth.NewCertificate("B", time.Now(), time.Hour)
	if got, err := auth.ParseCertificatePEM(a.PEM()); err != nil || got.Thumbprint() != a.Thumbprint() {
		t.Fatalf("round trip: %v", err)
	}
	mixed := append(b.PEM()[:strings.Index(string(b.PEM()), "-----BEGIN CERTIFICATE")], a.PEM()[strings.Index(string(a.PEM()), "-----BEGIN CERTIFICATE"):]...)
	if _, err := auth.ParseCertificatePEM(mixed); err == nil || !strings.Contains(err.Error(), "gehören nicht zusammen") {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := auth.ParseCertificatePEM([]byte("kein PEM")); err == nil || !strings.Contains(err.Error(), "kein Zertifikat") {
		t.Errorf("no PEM: %v", err)
	}
}
