package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/m365sim"
	"kanzleisync/platform/keyring/keyringtest"
)

// A workstation of a public-client registration ("Mobile and desktop
// applications"): the sign-in redeems its code with PKCE only, the token
// refreshes without a secret, and no entity credential is stored anywhere —
// not in the keyring, the database or the logs.
func TestPublicClientWorkstation(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	tf.Tenants[0].Apps[0].PublicClient = true
	tf.Tenants[0].Apps[0].Secrets = nil
	kr, service := keyringtest.Real(t, auth.RefreshKey(anna))
	e := newEnvWith(t, tf, m365sim.Options{}, kr, "")
	if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
		t.Fatalf("public-client sign-in: %v", err)
	}
	// a new process refreshes without a secret
	mgr := e.newManager()
	if _, err := mgr.Graph(anna).Renew(context.Background()); err != nil {
		t.Fatalf("refresh as a public client: %v", err)
	}
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") && (strings.Contains(r.Body, "client_secret") || strings.Contains(r.Body, "client_assertion")) {
			t.Errorf("a token request carried a credential: %s", r.Body)
		}
	}
	for _, key := range []string{auth.SecretKey("Kanzlei"), auth.CertificateKey("Kanzlei")} {
		if v, err := rawEntry(service, key); err == nil {
			t.Errorf("keyring holds %s (%d bytes)", key, len(v))
		}
	}
	if ok, _ := mgr.HasClientSecret("Kanzlei"); ok {
		t.Error("a client secret is stored")
	}
	if _, err := mgr.Certificate("Kanzlei"); err != auth.ErrNoCertificate {
		t.Errorf("a certificate is stored: %v", err)
	}
	// no secret in the state
	for _, p := range []string{filepath.Join(e.dir, "kanzleisync.db")} {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), m365sim.DemoClientSecret) {
			t.Errorf("%s holds a client secret", p)
		}
	}
	if strings.Contains(e.logs.String(), "client_secret=") {
		t.Error("the log names a client secret")
	}
	// application permissions need a credential: said, not attempted blindly
	_, err := mgr.App("Kanzlei").TokenContext(context.Background())
	if a := auth.Explain(err, auth.Context{}); !strings.Contains(a.Problem, "weder ein Zertifikat noch ein geheimer Clientschlüssel") || !strings.Contains(a.Fix, "certificate create") {
		t.Errorf("app token on a public-client workstation: %v → %+v", err, a)
	}
}

// The two mix-ups, each explained with its fix: a workstation without a
// secret against a Web registration (AADSTS7000218), and a workstation
// with a secret against a public registration (AADSTS700025).
func TestRegistrationKindMixUps(t *testing.T) {
	t.Run("web registration, no secret here", func(t *testing.T) {
		kr, _ := keyringtest.Real(t, auth.RefreshKey(anna))
		e := newEnvWith(t, nil, m365sim.Options{}, kr, "")
		_, err := signIn(t, e, anna, httpOpener(t, anna, nil))
		a := auth.Explain(err, auth.Context{})
		if a.Code != 7000218 || !strings.Contains(a.Problem, "Web-Anwendung") || !strings.Contains(a.Fix, "Mobile und Desktopanwendungen") {
			t.Errorf("%v → %+v", err, a)
		}
	})
	t.Run("public registration, a secret here", func(t *testing.T) {
		tf := m365sim.DemoTenant(time.Now())
		tf.Tenants[0].Apps[0].PublicClient = true
		kr, service := keyringtest.Real(t, auth.RefreshKey(anna), auth.SecretKey("Kanzlei"))
		e := newEnvWith(t, tf, m365sim.Options{}, kr, service)
		_, err := signIn(t, e, anna, httpOpener(t, anna, nil))
		a := auth.Explain(err, auth.Context{})
		if a.Code != 700025 || !strings.Contains(a.Fix, "--remove-credentials") {
			t.Fatalf("%v → %+v", err, a)
		}
		// the fix works
		if err := e.mgr.RemoveCredentials("Kanzlei"); err != nil {
			t.Fatal(err)
		}
		if _, err := signIn(t, e, anna, httpOpener(t, anna, nil)); err != nil {
			t.Errorf("after --remove-credentials: %v", err)
		}
	})
}
