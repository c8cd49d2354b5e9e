package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kanzleisync/app/config"
)

// `kanzleisync policy set` as the MSI runs it (msiexec … TENANT=… CLIENTID=…
// CACHEPATH=…): it writes the policy file without opening a data directory
// (the installer runs as SYSTEM), an upgrade with empty properties keeps
// what is there, a later call changes only what it names, bad input is
// refused with the file unchanged, and the file kanzleisync reads back is
// the one written.
func TestPolicySetForTheInstaller(t *testing.T) {
	base, err := os.MkdirTemp("", "policy") // not t.TempDir: this test also runs under Wine
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	file := filepath.Join(base, "ProgramData", "kanzleisync", "policy.json")
	data := filepath.Join(base, "keine-daten")
	set := func(args ...string) int { return run(data, append([]string{"policy", "set", "--file", file}, args...)) }

	const tenant, client = "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b", "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
	cache := filepath.Join(base, "Kanzlei", "cache.db")
	if code := set("--tenant", tenant, "--client-id", client, "--cache-path", cache); code != 0 {
		t.Fatalf("policy set: exit %d", code)
	}
	read := func() *config.Policy {
		t.Helper()
		p, err := config.LoadPolicy(file)
		if err != nil || p == nil || p.Entity == nil {
			t.Fatalf("policy as kanzleisync reads it: %+v %v", p, err)
		}
		return p
	}
	p := read()
	if p.Entity.Name != config.DefaultPolicyEntity || p.Entity.Tenant != tenant || p.Entity.ClientID != client || p.Entity.CachePath != cache {
		t.Fatalf("entity: %+v", p.Entity)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("policy set created a data directory (%v)", err)
	}

	// IT's own settings in the file survive; an upgrade passes empty properties
	b, _ := os.ReadFile(file)
	withSettings := strings.Replace(string(b), `"entity"`, `"settings": {"deadlinesTo": "calendar"}, "entity"`, 1)
	if err := os.WriteFile(file, []byte(withSettings), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := set("--tenant", "", "--client-id", "", "--cache-path", "", "--entity", ""); code != 0 {
		t.Fatalf("upgrade without properties: exit %d", code)
	}
	if code := set("--entity", "Kanzlei Müller", "--cache-path", `\\srv\kanzlei\cache.db`); code != 0 {
		t.Fatalf("second set: exit %d", code)
	}
	p = read()
	if p.Entity.Name != "Kanzlei Müller" || p.Entity.Tenant != tenant || p.Entity.CachePath != `\\srv\kanzlei\cache.db` || string(p.Settings["deadlinesTo"]) != `"calendar"` {
		t.Fatalf("after the second set: %+v %s", p.Entity, p.Settings)
	}

	// refused: a client id that is no GUID, a tenant of a multi-tenant word, a file that is no policy
	before, _ := os.ReadFile(file)
	for _, args := range [][]string{{"--client-id", "kanzleisync"}, {"--tenant", "common"}, {"--unbekannt", "x"}} {
		if code := set(args...); code == 0 {
			t.Errorf("policy set %v: accepted", args)
		}
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("a refused call changed the file:\n%s", after)
	}
	if err := os.WriteFile(file, []byte(`{"entity": {"name": "Kanzlei", "clientSecret": "x"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := set("--tenant", tenant); code == 0 {
		t.Error("a policy file holding a secret was overwritten instead of refused")
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("a temporary file stayed behind (%v)", err)
	}
}
