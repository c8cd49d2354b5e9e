package config_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/testsupport"
)

func TestAdminPassword(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	if has, err := r.HasAdminPassword(ctx); has || err != nil {
		t.Fatalf("new installation: %v %v", has, err)
	}
	if err := r.CheckAdmin(ctx, "irgendwas"); !errors.Is(err, config.ErrNoAdminPassword) {
		t.Fatalf("check without a password set: %v", err)
	}
	if err := r.SetAdminPassword(ctx, "", "kurz"); err == nil || !strings.Contains(err.Error(), "mindestens 10 Zeichen") {
		t.Fatalf("short password: %v", err)
	}
	if err := r.SetAdminPassword(ctx, "", "Kanzlei-Admin-2026"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.CheckAdmin(ctx, "Kanzlei-Admin-2026"); err != nil {
		t.Fatal(err)
	}
	t.Logf("one check takes %v (PBKDF2, 600,000 rounds)", time.Since(start).Round(time.Millisecond))
	if err := r.CheckAdmin(ctx, "kanzlei-admin-2026"); !errors.Is(err, config.ErrWrongAdminPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := r.CheckAdmin(ctx, ""); !errors.Is(err, config.ErrAdminRequired) {
		t.Fatalf("no password: %v", err)
	}
	// changing needs the current one
	if err := r.SetAdminPassword(ctx, "falsch-falsch", "Neues-Passwort-1"); !errors.Is(err, config.ErrWrongAdminPassword) {
		t.Fatalf("change with a wrong password: %v", err)
	}
	if err := r.SetAdminPassword(ctx, "Kanzlei-Admin-2026", "Neues-Passwort-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckAdmin(ctx, "Neues-Passwort-1"); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyLocksItsFields(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	file := filepath.Join(dir, "policy.json")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := config.LoadPolicy(filepath.Join(dir, "fehlt.json")); p != nil || err != nil {
		t.Fatalf("missing file: %v %v", p, err)
	}
	for bad, want := range map[string]string{
		`{"entity": `: "kein gültiges JSON",
		`{"entity": {"name": "K", "clientSecret": "abc"}}`: "geheimen Schlüssel",
		`{"settings": {"deadlinesTo": "fax"}}`:             "Fristen und Wiedervorlagen gehen entweder",
		`{"settings": {"farbe": "blau"}}`:                  "unbekannte Einstellung",
		`{"user": {}}`:                                     "erlaubt",
	} {
		write(bad)
		if _, err := config.LoadPolicy(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
	write(`{"entity": {"name": "Kanzlei Müller", "tenant": "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b", "clientId": "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b", "secretExpires": "2027-05-31"},
	        "settings": {"interfaceActive": true, "deadlinesTo": "calendar"}}`)
	p, err := config.LoadPolicy(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	ent, err := r.Entity(ctx, "Kanzlei Müller")
	if err != nil || ent.ClientID != "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b" || ent.SecretExpires.String() != "2027-05-31" {
		t.Fatalf("deployed entity: %+v %v", ent, err)
	}
	s, _ := r.Settings(ctx)
	if !s.InterfaceActive || s.DeadlinesTo != "calendar" {
		t.Fatalf("deployed settings: %+v", s)
	}
	// a locked value cannot be changed; an unlocked one can, and the cache path is the workstation's
	ent.ClientID = "2b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
	var locked *config.ErrLocked
	if err := r.SaveEntity(ctx, ent); !errors.As(err, &locked) || !strings.Contains(err.Error(), "von der IT vorgegeben") {
		t.Fatalf("changing the deployed entity: %v", err)
	}
	ent.ClientID = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
	ent.CachePath = filepath.Join(dir, "cache.sqlite")
	if err := r.SaveEntity(ctx, ent); err != nil {
		t.Fatalf("the cache path is not locked: %v", err)
	}
	s.InterfaceActive = false
	if err := r.SaveSettings(ctx, s); !errors.As(err, &locked) || locked.Field != "interfaceActive" {
		t.Fatalf("switching off a deployed switch: %v", err)
	}
	s.InterfaceActive, s.TodoListName = true, "Fristen"
	if err := r.SaveSettings(ctx, s); err != nil {
		t.Fatalf("an unlocked setting: %v", err)
	}
	if got := p.LockedSettings(); strings.Join(got, ",") != "deadlinesTo,interfaceActive" {
		t.Errorf("locked %v", got)
	}
}
