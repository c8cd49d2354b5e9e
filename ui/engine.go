package ui

import (
	"context"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
)

// Engine is what the tray and its windows need from the work behind them
// (core.Engine): the status, the actions, and the configuration through
// app/config's change API. The windows reach nothing else.
type Engine interface {
	// status and work
	Status() core.Status
	Subscribe(func(core.Status))
	SyncNow()
	Reload(ctx context.Context) error
	RefreshWarnings(ctx context.Context)
	Now() time.Time
	SignIn(ctx context.Context, upn string, so auth.SignInOptions) error
	SendTestMail(ctx context.Context, upn, address, to string) (mail.TestMailReport, error)
	Diagnose(ctx context.Context) ([]diagnose.Report, error)
	TestEntity(ctx context.Context, name string) (diagnose.Report, error)
	Preview(ctx context.Context) (map[string]string, error)
	Journal(ctx context.Context, f store.JournalFilter) ([]store.JournalEntry, error)
	HeldDeletions(ctx context.Context) ([]store.HeldDeletion, error)
	ReleaseHeldDeletions(ctx context.Context, admin config.Admin, upn, who string) (int, error)

	// configuration
	Entities(ctx context.Context) ([]config.Entity, error)
	Entity(ctx context.Context, name string) (config.Entity, error)
	Workers(ctx context.Context) ([]config.Worker, error)
	Worker(ctx context.Context, upn string) (config.Worker, error)
	Settings(ctx context.Context) (config.Settings, error)
	DisclosureSamples(ctx context.Context, s config.Settings) (string, []export.Sample, error)
	Policy() *config.Policy
	HasClientSecret(entity string) (bool, error)
	CertificateEnd(entity string) time.Time
	CreateCertificate(admin config.Admin, entity, dir string) (string, error)
	HasAdminPassword(ctx context.Context) (bool, error)
	SetAdminPassword(ctx context.Context, old, password string) error
	Unlock(ctx context.Context, password string) (config.Admin, error)
	ChangeEntity(ctx context.Context, admin config.Admin, c config.EntityChange) error
	ChangeSettings(ctx context.Context, admin config.Admin, s config.Settings, confirmed bool) error
	SetInterfaceActive(ctx context.Context, admin config.Admin, on, confirmed bool) error
	SaveWorker(ctx context.Context, w config.Worker) error
	// LocalPassword is the account's password for the local POP3 server.
	LocalPassword(address string) (string, error)
	RetryAside(ctx context.Context, address string) (int, error)
	// the outbox: what could not be sent, and a person's decision on it
	FailedOutgoing(ctx context.Context, address string) ([]store.Outgoing, error)
	RetryOutgoing(ctx context.Context, address string, id int64) error
	DiscardOutgoing(ctx context.Context, address string, id int64) error
}

var _ Engine = (*core.Engine)(nil)
