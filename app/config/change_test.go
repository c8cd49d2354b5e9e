package config_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"kanzleisync/app/config"
)

type secretBox struct {
	got  map[string]string
	fail error
}

func (b *secretBox) SetClientSecret(entity, secret string) error {
	if b.fail != nil {
		return b.fail
	}
	b.got[entity] = secret
	return nil
}

func TestChangeEntity(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	if err := r.SetAdminPassword(ctx, "", "Kanzlei-Admin-2026"); err != nil {
		t.Fatal(err)
	}
	admin, err := r.Unlock(ctx, "Kanzlei-Admin-2026")
	if err != nil || !admin.Unlocked() {
		t.Fatalf("unlock: %v", err)
	}
	box := &secretBox{got: map[string]string{}}
	ent := config.Entity{Name: "Kanzlei", Tenant: "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b", ClientID: "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
		SecretExpires: config.Date{Time: time.Now().AddDate(1, 0, 0)}}
	stored := func() bool {
		_, err := r.Entity(ctx, "Kanzlei")
		return err == nil
	}
	if err := r.ChangeEntity(ctx, config.Admin{}, config.EntityChange{Entity: ent}, box); !errors.Is(err, config.ErrAdminRequired) || stored() {
		t.Fatalf("without the administrator: %v, stored %v", err, stored())
	}
	// a secret that is the secret's id: nothing is written, neither keyring nor record
	if err := r.ChangeEntity(ctx, admin, config.EntityChange{Entity: ent, Secret: "0f4c9a1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"}, box); err == nil || stored() || len(box.got) != 0 {
		t.Fatalf("secret id as secret: %v, stored %v, keyring %v", err, stored(), box.got)
	}
	// a keyring that fails: no record without its secret
	box.fail = errors.New("keyring locked")
	if err := r.ChangeEntity(ctx, admin, config.EntityChange{Entity: ent, Secret: "abc~DEF.ghi-123456789012345678901234"}, box); err == nil || stored() {
		t.Fatalf("failing keyring: %v, stored %v", err, stored())
	}
	box.fail = nil
	if err := r.ChangeEntity(ctx, admin, config.EntityChange{Entity: ent, Secret: "abc~DEF.ghi-123456789012345678901234"}, box); err != nil || !stored() || box.got["Kanzlei"] == "" {
		t.Fatalf("save: %v, stored %v, keyring %v", err, stored(), box.got)
	}
	got, _ := r.Entity(ctx, "Kanzlei")
	if got.GraphEndpoint == "" || got.AuthorityHost == "" {
		t.Errorf("read without defaults: %+v", got)
	}
	renamed := ent
	renamed.Name = "Kanzlei Nord"
	if err := r.ChangeEntity(ctx, admin, config.EntityChange{Entity: renamed, Was: "Kanzlei"}, box); !errors.Is(err, config.ErrRename) {
		t.Errorf("rename: %v", err)
	}
	if _, err := r.Entity(ctx, "Kanzlei Nord"); err == nil {
		t.Error("the refused rename stored an entity")
	}
}

func TestChangeSettingsNeedsConfirmationToSwitchOn(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	if err := r.SetAdminPassword(ctx, "", "Kanzlei-Admin-2026"); err != nil {
		t.Fatal(err)
	}
	admin, _ := r.Unlock(ctx, "Kanzlei-Admin-2026")
	if err := r.SetInterfaceActive(ctx, admin, true, false); !errors.Is(err, config.ErrActivationNotConfirmed) {
		t.Fatalf("switch on without confirmation: %v", err)
	}
	if s, _ := r.Settings(ctx); s.InterfaceActive {
		t.Fatal("switched on without confirmation")
	}
	if err := r.SetInterfaceActive(ctx, config.Admin{}, true, true); !errors.Is(err, config.ErrAdminRequired) {
		t.Fatalf("without the administrator: %v", err)
	}
	if err := r.SetInterfaceActive(ctx, admin, true, true); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Settings(ctx)
	s.TodoListName = "Kanzlei-Fristen"
	if err := r.ChangeSettings(ctx, admin, s, false); err != nil {
		t.Fatalf("a change while on needs no confirmation: %v", err)
	}
	if err := r.SetInterfaceActive(ctx, admin, false, false); err != nil {
		t.Fatalf("switching off needs none: %v", err)
	}
}
