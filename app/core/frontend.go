package core

import (
	"context"
	"path/filepath"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/store"
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
