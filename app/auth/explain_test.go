package auth_test

import (
	"strings"
	"testing"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
)

// TestEveryEmulatorCodeIsExplained: each AADSTS code the emulator knows has
// its own German explanation and fix.
func TestEveryEmulatorCodeIsExplained(t *testing.T) {
	ent := config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID}
	for _, code := range m365sim.ErrorCodes() {
		a := auth.Explain(&auth.EntraError{OAuth: "invalid_grant", Code: code}, auth.Context{Entity: ent, RedirectURI: "http://localhost:61234/authorize/"})
		if strings.Contains(a.Problem, "Microsoft meldet den Fehler") || a.Fix == "" || a.Code != code {
			t.Errorf("AADSTS%d has no explanation of its own: %+v", code, a)
		}
	}
	a := auth.Explain(&auth.EntraError{Code: 50011}, auth.Context{Entity: ent, RedirectURI: "http://localhost:61234/authorize/"})
	if !strings.Contains(a.Fix, "http://localhost:50993/authorize/") {
		t.Errorf("50011 should name the redirect URI to register: %s", a.Fix)
	}
	a = auth.Explain(&auth.EntraError{Code: 65001}, auth.Context{Entity: ent})
	if !strings.Contains(a.Fix, m365sim.DemoTenantID+"/v2.0/adminconsent?client_id="+m365sim.DemoClientID) {
		t.Errorf("65001 should give the admin-consent URL: %s", a.Fix)
	}
	a = auth.Explain(&auth.EntraError{Code: 7000222}, auth.Context{Entity: ent})
	if a.String() != "Der geheime Clientschlüssel ist abgelaufen. Im Azure-Portal unter Zertifikate & Geheimnisse einen neuen erstellen und hier eintragen (mit dem neuen Ablaufdatum)." {
		t.Errorf("7000222: %s", a)
	}
}
