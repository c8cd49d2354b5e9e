// Package demo is `make run`: the Microsoft 365 emulator in-process on
// loopback, a demo tenant, a demo cache of the practice software and a
// configuration pointing at both, so that a newcomer sees kanzleisync work
// without a Microsoft account, and can break things on purpose.
package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/source"
	"kanzleisync/app/text"
)

// EntityName is the demo firm.
const EntityName = "Kanzlei Müller & Partner"

// AdminPassword unlocks the demo's entity and firm settings.
const AdminPassword = "Demo-Admin-2026"

// Demo is a running demo environment.
type Demo struct {
	Sim     *m365sim.Server
	MailTLS *tls.Config
	Entity  config.Entity
	Workers []config.Worker
}

// Start runs the emulator, writes the demo cache into dir (when missing)
// and configures the entity, its secret and the demo case workers. The
// emulator's addresses change with each start; the configuration follows.
func Start(ctx context.Context, dir string, repo *config.Repo, m *auth.Manager, logger *slog.Logger) (*Demo, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	tf := m365sim.DemoTenant(now)
	// the demo app may read its own registration: "Anbindung testen" then
	// shows the secret's end date as Microsoft has it
	tf.Tenants[0].Apps[0].AppRoles = append(tf.Tenants[0].Apps[0].AppRoles, "Application.Read.All")
	sim, err := m365sim.New(tf, m365sim.Options{Logger: logger, StateFile: filepath.Join(dir, "m365sim-state.json")})
	if err != nil {
		return nil, err
	}
	if err := sim.Start(); err != nil {
		return nil, err
	}
	d := &Demo{Sim: sim}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(sim.CACertPEM())
	d.MailTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if err := d.configure(ctx, dir, repo, m, tf.Tenants[0].Apps[0].Secrets[0].Expires); err != nil {
		_ = sim.Close()
		return nil, err
	}
	return d, nil
}

func (d *Demo) configure(ctx context.Context, dir string, repo *config.Repo, m *auth.Manager, secretExpires time.Time) error {
	cache := filepath.Join(dir, "demo-cache.sqlite")
	if _, err := os.Stat(cache); os.IsNotExist(err) {
		// A few hundred items: 3 workers × (40 Termine, 2 of them
		// vertraulich, + 25 Fristen + 15 Wiedervorlagen) and 60 Adressen,
		// 20 subscribed per worker; Anna's first Termin is Jens's too; each
		// worker has a weekly Kanzleibesprechung (one Monday cancelled,
		// one moved) and a monthly Jour fixe.
		y, m, _ := time.Now().Date()
		from := time.Date(y, m-1, 1, 0, 0, 0, 0, source.Berlin) // all-day items need midnight
		if err := source.Generate(ctx, cache, source.GenOptions{Seed: 1, Appointments: 40, Deadlines: 25, Resubmissions: 15,
			Addresses: 60, Subscriptions: 20, Confidential: 2, CourtDateForTwo: true, Series: 2, From: from}); err != nil {
			return fmt.Errorf("demo cache: %w", err)
		}
	}
	d.Entity = config.Entity{Name: EntityName, Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		SecretExpires: berlinDate(secretExpires), AuthorityHost: d.Sim.URL(), GraphEndpoint: d.Sim.URL(), CachePath: cache}
	existing, err := repo.Entity(ctx, EntityName)
	first := err != nil
	if !first && !existing.SecretExpires.IsZero() {
		d.Entity.SecretExpires = existing.SecretExpires // the demo menu may have moved it
	}
	if err := repo.SaveEntity(ctx, d.Entity); err != nil {
		return err
	}
	if err := m.SetClientSecret(EntityName, m365sim.DemoClientSecret); err != nil {
		return err
	}
	// The demo firm has switched its interface on; "Einstellungen" can
	// switch it off to show what that does.
	if has, err := repo.HasAdminPassword(ctx); err == nil && !has {
		if err := repo.SetAdminPassword(ctx, "", AdminPassword); err != nil {
			return err
		}
	}
	if set, err := repo.Settings(ctx); err == nil && (first || set.LocalPOP3 == "" || set.LocalSMTP == "") {
		if first {
			set.InterfaceActive = true
		}
		// any free port: a real installation on this machine keeps its own
		set.LocalPOP3, set.LocalSMTP = "127.0.0.1:0", "127.0.0.1:0"
		if err := repo.SaveSettings(ctx, set); err != nil {
			return err
		}
	}
	pop3Host, pop3Port := hostPort(d.Sim.POP3SAddr())
	smtpHost, smtpPort := hostPort(d.Sim.SMTPAddr())
	for i, sw := range source.DemoWorkers {
		w, err := repo.Worker(ctx, sw.UPN)
		if err != nil { // first start: all modules, one mail account each
			a := config.MailAccount{Address: sw.UPN, Transport: config.POP3SMTP}
			if i == 2 { // one account over Graph instead of POP3/SMTP
				a.Transport = config.GraphMail
			}
			w = config.Worker{UPN: sw.UPN, DisplayName: sw.Name, Modules: config.AllModules,
				Accounts: []config.MailAccount{a.WithDefaults()}}
		}
		w.Entity = EntityName
		for j := range w.Accounts { // follow the emulator's ports
			if w.Accounts[j].Transport != config.GraphMail {
				a := &w.Accounts[j]
				a.POP3Host, a.POP3Port, a.POP3TLS, a.SMTPHost, a.SMTPPort = pop3Host, pop3Port, config.TLSImplicit, smtpHost, smtpPort
			}
		}
		if err := repo.SaveWorker(ctx, w); err != nil {
			return err
		}
		d.Workers = append(d.Workers, w)
	}
	return nil
}

func hostPort(addr string) (string, int) {
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return host, port
}

// Close stops the emulator and saves its state.
func (d *Demo) Close() error { return d.Sim.Close() }

// Breakage is one thing the demo menu breaks on purpose.
type Breakage struct {
	Label string // German menu text
	Apply func(ctx context.Context, repo *config.Repo) error
}

// Breakages are the entries of the demo menu.
func (d *Demo) Breakages() []Breakage {
	app := m365sim.DemoClientID
	setExpiry := func(days int) func(context.Context, *config.Repo) error {
		return func(ctx context.Context, repo *config.Repo) error {
			exp := time.Now().AddDate(0, 0, days)
			if err := d.Sim.PatchApp(app, m365sim.AppPatch{SecretExpires: &exp}); err != nil {
				return err
			}
			ent, err := repo.Entity(ctx, EntityName)
			if err != nil {
				return err
			}
			ent.SecretExpires = berlinDate(exp)
			return repo.SaveEntity(ctx, ent)
		}
	}
	yes, no := true, false
	return []Breakage{
		{text.Mark("Clientschlüssel läuft in 7 Tagen ab"), setExpiry(7)},
		{text.Mark("Clientschlüssel abgelaufen"), setExpiry(-1)},
		{text.Mark("Administratorzustimmung entziehen"), func(context.Context, *config.Repo) error {
			return d.Sim.PatchApp(app, m365sim.AppPatch{AdminConsent: &no, WithdrawUserConsents: true})
		}},
		{text.Mark("SMTP AUTH im Mandanten abschalten"), func(context.Context, *config.Repo) error {
			return d.Sim.PatchApp(app, m365sim.AppPatch{TenantSMTPAuthDisabled: &yes})
		}},
		{text.Mark("Anmeldungen widerrufen (Passwort geändert)"), func(context.Context, *config.Repo) error {
			for _, w := range source.DemoWorkers {
				if err := d.Sim.PatchUser(w.UPN, m365sim.UserPatch{RevokeSignIns: true}); err != nil {
					return err
				}
			}
			return nil
		}},
		{text.Mark("Drosselung (30 % HTTP 429)"), func(context.Context, *config.Repo) error {
			d.Sim.SetFaults(m365sim.Faults{Status: map[int]float64{429: 0.3}})
			return nil
		}},
		{EmptyCache, d.emptyCache},
		{text.Mark("Alles wieder in Ordnung bringen"), func(ctx context.Context, repo *config.Repo) error {
			d.Sim.SetFaults(m365sim.Faults{})
			if err := d.restoreCache(); err != nil {
				return err
			}
			if err := d.Sim.PatchApp(app, m365sim.AppPatch{AdminConsent: &yes, TenantSMTPAuthDisabled: &no}); err != nil {
				return err
			}
			return setExpiry(540)(ctx, repo)
		}},
	}
}

// EmptyCache is the demo entry that replaces the cache with an empty one of
// the same schema, as a broken restore would: the guard against mass
// deletion holds every deletion back.
var EmptyCache = text.Mark("Cache leer wiederherstellen (Massenlöschung)")

func (d *Demo) backupPath() string { return d.Entity.CachePath + ".vorher" }

// emptyCache keeps the demo cache aside and writes an empty one, with the
// Sachbearbeiter still in it.
func (d *Demo) emptyCache(ctx context.Context, _ *config.Repo) error {
	if _, err := os.Stat(d.backupPath()); os.IsNotExist(err) {
		if err := os.Rename(d.Entity.CachePath, d.backupPath()); err != nil {
			return fmt.Errorf("keep the demo cache: %w", err)
		}
	}
	return source.Generate(ctx, d.Entity.CachePath, source.GenOptions{Seed: 1})
}

// restoreCache puts the cache kept by emptyCache back.
func (d *Demo) restoreCache() error {
	if _, err := os.Stat(d.backupPath()); err != nil {
		return nil
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(d.Entity.CachePath + suffix)
	}
	return os.Rename(d.backupPath(), d.Entity.CachePath)
}

// berlinDate is the date of t as the Azure portal shows it to the firm
// (Europe/Berlin), the date IT types in: at 23:30 UTC it is the next day.
func berlinDate(t time.Time) config.Date {
	y, m, d := t.In(source.Berlin).Date()
	return config.Date{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}
