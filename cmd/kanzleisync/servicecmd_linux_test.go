package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/source"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring/keyringtest"
	"kanzleisync/platform/service"
)

// `service install`'s preparation, with the service started as it would
// be by the service manager: the configuration is copied into the
// service's own data directory (owner only), the certificate goes through
// the hand-over file into another keyring (the service account's), the
// file is gone after the service's start, and the service exports with the
// certificate. An entity without any credential refuses the install.
// (The Windows parts — DPAPI, the directory's ACL, the service manager —
// are compiled by `make windows`, not run here.)
func TestServiceInstallHandsOver(t *testing.T) {
	workers := source.DemoWorkers[:1]
	s := newServeSetup(t, nil, workers, source.GenOptions{Seed: 29, Appointments: 5, Deadlines: 2, Resubmissions: 1, Addresses: 3, Subscriptions: 2})
	cer := filepath.Join(testsupport.TempDir(t), "kanzlei.cer")
	run := func(stdin string, args ...string) string { return s.cli(t, stdin, args...) }
	run("Kanzlei-Admin-2026\n", "admin", "password", "set")
	run("", "config", "entity", "certificate", "create", "--name", "Kanzlei", "--file", cer)
	der, err := os.ReadFile(cer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sim.AddCertificate(m365sim.DemoClientID, der); err != nil {
		t.Fatal(err)
	}

	t.Setenv("KANZLEISYNC_KEYRING_SERVICE", s.service)
	t.Setenv("KANZLEISYNC_POLICY_FILE", filepath.Join(s.data, "keine-policy.json"))
	e, release, err := openEnv(s.data, false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	svcDir := filepath.Join(testsupport.TempDir(t), "ProgramData", "kanzleisync", "server")
	prep, err := prepareService(context.Background(), e, svcDir)
	if err != nil {
		t.Fatal(err)
	}
	if !prep.copied || len(prep.creds) != 1 || prep.creds[0].Kind != "certificate" || prep.creds[0].Value != "" {
		t.Fatalf("prepared: %+v", prep)
	}
	for path, want := range map[string]os.FileMode{svcDir: 0o700, filepath.Join(svcDir, "kanzleisync.db"): 0o600, filepath.Join(svcDir, service.HandoverFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", path, err, fi.Mode().Perm(), want)
		}
	}
	// installing again keeps the service's own data
	if again, err := prepareService(context.Background(), e, svcDir); err != nil || again.copied {
		t.Errorf("second install: copied=%v err=%v", again.copied, err)
	}

	// the service: its own data directory, its own (empty) keyring
	svcKeys, svcService := keyringtest.Real(t, auth.CertificateKey("Kanzlei"), auth.SecretKey("Kanzlei"))
	if _, err := svcKeys.Get(auth.CertificateKey("Kanzlei")); err == nil {
		t.Fatal("the service keyring has a certificate before the start")
	}
	svc := *s
	svc.data, svc.service = svcDir, svcService
	s.sim.ResetRequests()
	p := svc.start(t)
	p.waitCycle(t, len(workers))
	if service.HandoverPending(svcDir) {
		t.Error("the hand-over file is still there after the service started")
	}
	if v, err := svcKeys.Get(auth.CertificateKey("Kanzlei")); err != nil || !strings.Contains(v, "PRIVATE KEY") {
		t.Errorf("the service keyring holds no certificate: %v", err)
	}
	events, contacts, tasks, doubles := s.mailboxCheck(t)
	if events != 5 || contacts != 2 || tasks != 3 || len(doubles) > 0 {
		t.Errorf("exported %d events, %d contacts, %d tasks, doubles %v", events, contacts, tasks, doubles)
	}
	signedWithCertificate(t, s.sim)
	log, _ := os.ReadFile(filepath.Join(svcDir, "kanzleisync.log"))
	if !strings.Contains(string(log), "credential taken over from service install") || strings.Contains(string(log), "PRIVATE KEY") {
		t.Errorf("service log: %s", log)
	}

	// an entity with nothing to hand over: refused in words, nothing written
	if err := e.repo.SaveEntity(context.Background(), config.Entity{Name: "Zweite", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(testsupport.TempDir(t), "server")
	if _, err := prepareService(context.Background(), e, other); err == nil || !strings.Contains(err.Error(), "weder ein Zertifikat noch ein geheimer Clientschlüssel") {
		t.Errorf("entity without a credential: %v", err)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a refused install created the service directory")
	}
}
