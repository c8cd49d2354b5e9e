package demo

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring/keyringtest"
)

// The demo configures a working firm against the in-process emulator, and
// each entry of its menu breaks what it says, with the German message a
// person would see.
func TestDemoAndItsBreakages(t *testing.T) {
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	st, err := store.Open(filepath.Join(dir, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo := config.NewRepo(st.DB())
	keys := []string{auth.SecretKey(EntityName)}
	for _, w := range source.DemoWorkers {
		keys = append(keys, auth.RefreshKey(w.UPN))
	}
	secrets, _ := keyringtest.Real(t, keys...)
	m := auth.NewManager(repo, secrets, auth.Options{})
	d, err := Start(ctx, dir, repo, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	set, _ := repo.Settings(ctx)
	if !set.InterfaceActive || len(d.Workers) != 3 {
		t.Fatalf("demo firm: active %v, %d workers", set.InterfaceActive, len(d.Workers))
	}
	if has, _ := repo.HasAdminPassword(ctx); !has {
		t.Error("no demo administrator password")
	}
	anna := d.Workers[0]
	if _, err := m.SignIn(ctx, anna.UPN, auth.SignInOptions{ListenAddr: "127.0.0.1:0", Timeout: 30 * time.Second, OpenBrowser: m365sim.AnswerSignIn(m365sim.DemoPassword, func(err error) { t.Error(err) })}); err != nil {
		t.Fatal(err)
	}
	dg := core.NewDiagnoser(repo, m, d.MailTLS, nil)
	ent, _ := dg.Entity(ctx, EntityName)
	if !ent.OK() || !strings.HasSuffix(ent.Checks[0].Detail, "(laut Microsoft)") {
		t.Fatalf("demo entity: %+v", ent.Checks)
	}
	if rep := core.SendTestMail(ctx, m, d.MailTLS, d.Entity, anna, anna.Accounts[0], ""); rep.Err != nil {
		t.Fatalf("test mail: %s", rep.Text())
	}
	breaks := map[string]Breakage{}
	for _, b := range d.Breakages() {
		breaks[b.Label] = b
	}
	apply := func(label string) {
		t.Helper()
		b, ok := breaks[label]
		if !ok {
			t.Fatalf("no demo entry %q", label)
		}
		if err := b.Apply(ctx, repo); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
	}
	apply("SMTP AUTH im Mandanten abschalten")
	if rep := core.SendTestMail(ctx, m, d.MailTLS, d.Entity, anna, anna.Accounts[0], ""); rep.Err == nil || !strings.Contains(rep.Text(), "5.7.139") {
		t.Errorf("with SMTP AUTH off: %s", rep.Text())
	}
	apply("Clientschlüssel läuft in 7 Tagen ab")
	ents, _ := repo.Entities(ctx)
	ws := diagnose.Warnings(time.Now(), ents, nil)
	if len(ws) != 1 || ws[0].Status != diagnose.Yellow {
		t.Errorf("secret in 7 days: %+v", ws)
	}
	apply("Administratorzustimmung entziehen")
	rep, _ := dg.Entity(ctx, EntityName)
	if rep.OK() || rep.ConsentURL == "" {
		t.Errorf("consent withdrawn, still ok: %+v", rep.Checks)
	}
	apply(EmptyCache)
	if c, err := source.Open(ctx, d.Entity.CachePath); err != nil {
		t.Errorf("emptied cache: %v", err)
	} else {
		if empty, _ := c.Empty(ctx, "termin"); !empty {
			t.Error("the emptied cache still has Termine")
		}
		c.Close()
	}
	apply("Alles wieder in Ordnung bringen")
	if c, err := source.Open(ctx, d.Entity.CachePath); err != nil {
		t.Errorf("restored cache: %v", err)
	} else {
		if empty, _ := c.Empty(ctx, "termin"); empty {
			t.Error("the restored cache has no Termine")
		}
		c.Close()
	}
	rep, _ = dg.Entity(ctx, EntityName)
	if !rep.OK() {
		t.Errorf("after repair: %+v", rep.Checks)
	}
	if r := core.SendTestMail(ctx, m, d.MailTLS, d.Entity, anna, anna.Accounts[0], ""); r.Err != nil {
		t.Errorf("test mail after repair: %s", r.Text())
	}
}
