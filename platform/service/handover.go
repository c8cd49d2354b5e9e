package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"kanzleisync/app/text"
)

// The service's credential on its way into the service account's keyring.
//
// A Windows service runs as LocalSystem, whose Credential Manager no
// administrator's session can write to. So `service install` writes the
// credentials of the installing administrator's keyring (the certificate of
// each entity, else its client secret) into HandoverFile in the service's
// data directory — encrypted for this machine with DPAPI (only processes on
// this computer can decrypt it) in a directory only SYSTEM and the
// administrators may open — and the service, at its first start, stores
// them into its own keyring and deletes the file. The file lives from the
// install to the service's first start: seconds, as install starts the
// service and waits for it.

// HandoverFile is the name of the hand-over file in the service's data directory.
const HandoverFile = "zugangsdaten-uebergabe.dat"

// Credential is one keyring entry handed to the service.
type Credential struct {
	Entity string `json:"entity"`
	Kind   string `json:"kind"` // "certificate" or "secret", for the messages
	Key    string `json:"key"`  // the keyring key
	Value  string `json:"value"`
}

// WriteHandover writes creds for the service into dir, replacing an
// earlier hand-over that was never taken.
func WriteHandover(dir string, creds []Credential) error {
	if len(creds) == 0 {
		return errors.New("no credentials to hand over")
	}
	plain, err := json.Marshal(creds)
	if err != nil {
		return err
	}
	sealed, err := protect(plain)
	clear(plain)
	if err != nil {
		return text.Errorf("Die Zugangsdaten ließen sich für den Dienst nicht verschlüsseln: %w", err)
	}
	path := filepath.Join(dir, HandoverFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, sealed, 0o600); err != nil {
		return text.Errorf("Die Übergabedatei für den Dienst ließ sich nicht schreiben: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return text.Errorf("Die Übergabedatei für den Dienst ließ sich nicht schreiben: %w", err)
	}
	return nil
}

// HandoverPending reports whether dir holds credentials the service has
// not taken yet.
func HandoverPending(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, HandoverFile))
	return err == nil
}

// TakeHandover stores the handed-over credentials with store (the service
// account's keyring) and deletes the file only when every one is stored;
// it returns the credentials taken (their values cleared). No file: nothing.
func TakeHandover(dir string, store func(key, value string) error) ([]Credential, error) {
	path := filepath.Join(dir, HandoverFile)
	sealed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", HandoverFile, err)
	}
	plain, err := unprotect(sealed)
	if err != nil {
		return nil, text.Errorf("Die Übergabedatei der Zugangsdaten lässt sich auf diesem Rechner nicht entschlüsseln (auf einem anderen Rechner angelegt?): %w", err)
	}
	var creds []Credential
	err = json.Unmarshal(plain, &creds)
	clear(plain)
	if err != nil {
		return nil, text.Errorf("Die Übergabedatei der Zugangsdaten ist beschädigt: %w", err)
	}
	for i, c := range creds {
		if err := store(c.Key, c.Value); err != nil {
			return nil, text.Errorf("Die Zugangsdaten der Entität „%s“ ließen sich nicht im Schlüsselspeicher des Dienstes ablegen: %w", c.Entity, err)
		}
		creds[i].Value = ""
	}
	if err := os.Remove(path); err != nil {
		return creds, fmt.Errorf("remove %s: %w", HandoverFile, err)
	}
	return creds, nil
}
