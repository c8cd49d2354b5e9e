package config

import (
	"context"
	"fmt"

	"kanzleisync/app/text"
)

// The one way the front-ends (the tray's Einstellungen and the command
// line) change the firm's configuration: validation, the administrator
// check, the order of secret and record and the rename rule live here.
// The engine follows every change through the configuration version the
// database counts (triggers), within its ConfigPoll.

// Admin proves that the administrator password was given. Only Unlock
// makes one; its zero value is "not unlocked".
type Admin struct{ unlocked bool }

// Unlocked reports whether the proof is real.
func (a Admin) Unlocked() bool { return a.unlocked }

// Unlock checks the administrator password.
func (r *Repo) Unlock(ctx context.Context, password string) (Admin, error) {
	if err := r.CheckAdmin(ctx, password); err != nil {
		return Admin{}, err
	}
	return Admin{unlocked: true}, nil
}

// SecretStore keeps client secrets: the operating system's keyring
// (auth.Manager), never the database.
type SecretStore interface {
	SetClientSecret(entity, secret string) error
}

// EntityChange is one save of an entity.
type EntityChange struct {
	Entity Entity
	// Was is the name the edited entity had; a different Entity.Name is a
	// rename, which is refused (Sachbearbeiter and the keyring entry hang
	// on the name). Empty: save by Entity.Name, new or not.
	Was string
	// Secret is a new client secret; empty keeps the stored one.
	Secret string
}

// ErrRename: an entity cannot be renamed.
var ErrRename = text.New("Den Namen einer Entität kann man nicht ändern, weil Sachbearbeiter und der geheime Schlüssel an ihm hängen. Für einen neuen Namen eine neue Entität anlegen (kanzleisync config entity set --name …) und die Sachbearbeiter ihr zuordnen.")

// ChangeEntity validates everything first, then stores the secret in the
// keyring and then the record: a stored entity has the secret it was saved
// with, and a refused change writes nothing.
func (r *Repo) ChangeEntity(ctx context.Context, admin Admin, c EntityChange, secrets SecretStore) error {
	if !admin.Unlocked() {
		return ErrAdminRequired
	}
	if c.Was != "" && c.Was != c.Entity.Name {
		return ErrRename
	}
	if err := r.checkEntityPolicy(c.Entity); err != nil {
		return err
	}
	if err := c.Entity.WithDefaults().Validate(r.now()); err != nil {
		return err
	}
	if c.Secret != "" {
		if err := ValidateSecret(c.Secret); err != nil {
			return err
		}
		if secrets == nil {
			return fmt.Errorf("change entity %s: no secret store", c.Entity.Name)
		}
		if err := secrets.SetClientSecret(c.Entity.Name, c.Secret); err != nil {
			return err
		}
	}
	return r.saveEntity(ctx, c.Entity)
}

// ErrActivationNotConfirmed: switching the interface on needs the preview
// of the first cycle to be shown and confirmed.
var ErrActivationNotConfirmed = text.New("Die Schnittstelle wurde nicht eingeschaltet. Nach Prüfung der Vorschau bestätigen (Kommandozeile: --active=true --confirm; Anwendung: „Schnittstelle aktiv“ → „Einschalten“).")

// ChangeSettings stores the firm's settings. Switching „Schnittstelle
// aktiv“ on needs confirmed: the front-end showed the preview and a person
// said yes.
func (r *Repo) ChangeSettings(ctx context.Context, admin Admin, s Settings, confirmed bool) error {
	if !admin.Unlocked() {
		return ErrAdminRequired
	}
	old, err := r.Settings(ctx)
	if err != nil {
		return err
	}
	if s.InterfaceActive && !old.InterfaceActive && !confirmed {
		return ErrActivationNotConfirmed
	}
	return r.SaveSettings(ctx, s)
}

// SetInterfaceActive switches „Schnittstelle aktiv“ and changes nothing
// else; on needs confirmed, as in ChangeSettings.
func (r *Repo) SetInterfaceActive(ctx context.Context, admin Admin, on, confirmed bool) error {
	s, err := r.Settings(ctx)
	if err != nil {
		return err
	}
	s.InterfaceActive = on
	return r.ChangeSettings(ctx, admin, s, confirmed)
}
