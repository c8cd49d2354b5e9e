package config

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"kanzleisync/app/text"
)

// The administrator role. Entity credentials, firm settings and the switch
// "Schnittstelle aktiv" need the administrator password, set at the first
// start by the firm's IT. A password rather than membership in an OS group:
// in small firms the Sachbearbeiter are often local administrators of their
// own PC, so an OS group would not separate the roles; and a password works
// the same on Windows, Linux and terminal servers, in the window and on the
// command line. It is stored only as a slow hash (PBKDF2-HMAC-SHA256).

// ErrAdminRequired: the action needs the administrator password.
var ErrAdminRequired = text.New("Dafür sind Administratorrechte nötig: bitte das Administratorpasswort eingeben (in der Anwendung „Als Administrator entsperren“, auf der Kommandozeile über die Umgebungsvariable KANZLEISYNC_ADMIN_PASSWORD).")

// ErrNoAdminPassword: no administrator password was set yet.
var ErrNoAdminPassword = text.New("Es ist noch kein Administratorpasswort festgelegt. Die IT-Betreuung legt es beim ersten Start fest: in der Anwendung unter „Einstellungen“ oder mit „kanzleisync admin password set“ (das Passwort als erste Zeile der Standardeingabe).")

// ErrWrongAdminPassword: the password given is not the administrator's.
var ErrWrongAdminPassword = text.New("Das Administratorpasswort ist falsch.")

const (
	adminKey        = "admin_password"
	pbkdf2Iter      = 600_000 // OWASP 2023 for PBKDF2-HMAC-SHA256
	minAdminPassLen = 10
)

type adminHash struct {
	Alg  string `json:"alg"`
	Iter int    `json:"iter"`
	Salt string `json:"salt"`
	Hash string `json:"hash"`
}

// HasAdminPassword reports whether the administrator password was set.
func (r *Repo) HasAdminPassword(ctx context.Context) (bool, error) {
	_, err := r.adminHash(ctx)
	if errors.Is(err, ErrNoAdminPassword) {
		return false, nil
	}
	return err == nil, err
}

func (r *Repo) adminHash(ctx context.Context) (adminHash, error) {
	var raw string
	err := r.db.QueryRowContext(ctx, `SELECT value FROM setting WHERE key = ?`, adminKey).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return adminHash{}, ErrNoAdminPassword
	}
	if err != nil {
		return adminHash{}, fmt.Errorf("read administrator password: %w", err)
	}
	var h adminHash
	if err := json.Unmarshal([]byte(raw), &h); err != nil || h.Alg != "pbkdf2-sha256" || h.Iter < 1 {
		return adminHash{}, text.Errorf("Das gespeicherte Administratorpasswort ist beschädigt; bitte die IT-Betreuung verständigen")
	}
	return h, nil
}

// CheckAdmin verifies the administrator password.
func (r *Repo) CheckAdmin(ctx context.Context, password string) error {
	h, err := r.adminHash(ctx)
	if err != nil {
		return err
	}
	if password == "" {
		return ErrAdminRequired
	}
	salt, err1 := base64.StdEncoding.DecodeString(h.Salt)
	want, err2 := base64.StdEncoding.DecodeString(h.Hash)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("the stored administrator password is damaged: %w", err)
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, h.Iter, len(want))
	if err != nil {
		return err
	}
	if !hmac.Equal(got, want) {
		return ErrWrongAdminPassword
	}
	return nil
}

// SetAdminPassword sets the administrator password: the first time freely,
// afterwards only with the current one (old).
func (r *Repo) SetAdminPassword(ctx context.Context, old, password string) error {
	has, err := r.HasAdminPassword(ctx)
	if err != nil {
		return err
	}
	if has {
		if err := r.CheckAdmin(ctx, old); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(password) < minAdminPassLen {
		return fmt.Errorf("Das Administratorpasswort muss mindestens %d Zeichen lang sein.", minAdminPassLen)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, pbkdf2Iter, 32)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(adminHash{Alg: "pbkdf2-sha256", Iter: pbkdf2Iter, Salt: base64.StdEncoding.EncodeToString(salt), Hash: base64.StdEncoding.EncodeToString(key)})
	_, err = r.db.ExecContext(ctx, `INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, adminKey, string(b))
	return err
}
