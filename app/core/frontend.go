package core

import (
	"context"
	"path/filepath"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// What the front-ends read and change through the engine: the
// configuration (through config's change API, with the keyring as the
// secret store), the journal and the entity test. The tray declares the
// subset it needs as ui.Engine.

func (e *Engine) Entities(ctx context.Context) ([]config.Entity, error) {
	return e.o.Repo.Entities(ctx)
}
func (e *Engine) Entity(ctx context.Context, name string) (config.Entity, error) {
	return e.o.Repo.Entity(ctx, name)
}
func (e *Engine) Workers(ctx context.Context) ([]config.Worker, error) { return e.o.Repo.Workers(ctx) }
func (e *Engine) Worker(ctx context.Context, upn string) (config.Worker, error) {
	return e.o.Repo.Worker(ctx, upn)
}
func (e *Engine) Settings(ctx context.Context) (config.Settings, error) {
	return e.o.Repo.Settings(ctx)
}

// Policy is the IT's deployed policy (nil: none).
func (e *Engine) Policy() *config.Policy { return e.o.Repo.Policy() }

func (e *Engine) HasAdminPassword(ctx context.Context) (bool, error) {
	return e.o.Repo.HasAdminPassword(ctx)
}
func (e *Engine) SetAdminPassword(ctx context.Context, old, password string) error {
	return e.o.Repo.SetAdminPassword(ctx, old, password)
}
func (e *Engine) Unlock(ctx context.Context, password string) (config.Admin, error) {
	return e.o.Repo.Unlock(ctx, password)
}

// ChangeEntity saves an entity; a new secret goes into the keyring.
func (e *Engine) ChangeEntity(ctx context.Context, admin config.Admin, c config.EntityChange) error {
	return e.o.Repo.ChangeEntity(ctx, admin, c, e.o.Auth)
}
func (e *Engine) ChangeSettings(ctx context.Context, admin config.Admin, s config.Settings, confirmed bool) error {
	return e.o.Repo.ChangeSettings(ctx, admin, s, confirmed)
}
func (e *Engine) SetInterfaceActive(ctx context.Context, admin config.Admin, on, confirmed bool) error {
	return e.o.Repo.SetInterfaceActive(ctx, admin, on, confirmed)
}
func (e *Engine) SaveWorker(ctx context.Context, w config.Worker) error {
	return e.o.Repo.SaveWorker(ctx, w)
}

// HasClientSecret reports whether the entity's secret is in the keyring.
func (e *Engine) HasClientSecret(entity string) (bool, error) {
	return e.o.Auth.HasClientSecret(entity)
}

// CertificateEnd is the end date of the entity's certificate credential
// (zero: none stored).
func (e *Engine) CertificateEnd(entity string) time.Time {
	if c, err := e.o.Auth.Certificate(entity); err == nil {
		return c.Cert.NotAfter
	}
	return time.Time{}
}

// CreateCertificate makes the entity's certificate credential (valid two
// years), keeps its key in the keyring and writes the public .cer into dir
// for the upload in the Azure portal; it returns the file's path. It needs
// the administrator.
func (e *Engine) CreateCertificate(admin config.Admin, entity, dir string) (string, error) {
	if !admin.Unlocked() {
		return "", config.ErrAdminRequired
	}
	path := filepath.Join(dir, auth.CertificateFile(entity))
	if _, err := e.o.Auth.CreateCertificate(entity, e.o.Now(), 2*365*24*time.Hour, path); err != nil {
		return "", err
	}
	return path, nil
}

// Journal reads the journal.
func (e *Engine) Journal(ctx context.Context, f store.JournalFilter) ([]store.JournalEntry, error) {
	return e.o.Store.ReadJournal(ctx, f)
}

// TestEntity signs in as the entity's application and probes its permissions.
func (e *Engine) TestEntity(ctx context.Context, name string) (diagnose.Report, error) {
	return NewDiagnoser(e.o.Repo, e.o.Auth, e.o.MailTLS, e.o.Now).Entity(ctx, name)
}

// ApplyDemo runs a demo entry that changes the configuration.
func (e *Engine) ApplyDemo(ctx context.Context, apply func(context.Context, *config.Repo) error) error {
	return apply(ctx, e.o.Repo)
}

// DisclosureSamples shows how the first items of the first entity with a
// cache would leave the firm under s („Was die Kanzlei verlässt“), before
// s is saved. entity is "" when no entity has a cache.
func DisclosureSamples(ctx context.Context, repo *config.Repo, s config.Settings) (entity string, samples []export.Sample, err error) {
	ents, err := repo.Entities(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, e := range ents {
		if e.CachePath == "" {
			continue
		}
		c, err := source.Open(ctx, e.CachePath)
		if err != nil {
			return e.Name, nil, err
		}
		defer c.Close()
		samples, err := export.Samples(ctx, c, s)
		return e.Name, samples, err
	}
	return "", nil, nil
}

// DisclosureSamples is core.DisclosureSamples on the engine's configuration.
func (e *Engine) DisclosureSamples(ctx context.Context, s config.Settings) (string, []export.Sample, error) {
	return DisclosureSamples(ctx, e.o.Repo, s)
}

// SampleLine is one sample as the preview writes it.
func SampleLine(sm export.Sample) string {
	private := ""
	if sm.Private {
		private = text.T(" (privat)")
	}
	return text.F("%s%s: Betreff „%s“ · Ort „%s“ · Text „%s“", sm.Key, private, sm.Subject, sm.Location, sm.Body)
}
