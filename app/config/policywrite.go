package config

import (
	"encoding/json"
	"os"
	"strings"
	"time"

	"kanzleisync/app/text"
)

// DefaultPolicyEntity is the entity's name when the installer is given none.
const DefaultPolicyEntity = "Kanzlei"

// WritePolicyEntity puts the entity's fields into the IT policy file at
// path — what `msiexec /i kanzleisync.msi TENANT=… CLIENTID=… CACHEPATH=…`
// asks for. Empty fields keep what the file says (an upgrade without the
// properties changes nothing); the file's settings stay as they are. The
// result is checked like an entity entered by hand and written in one
// step (a half-written policy would stop every kanzleisync that reads it).
// A file that is not a valid policy is refused, not overwritten.
func WritePolicyEntity(path string, e Entity, now time.Time) (*Policy, error) {
	for _, f := range []*string{&e.Name, &e.Tenant, &e.ClientID, &e.CachePath} {
		*f = strings.TrimSpace(*f)
	}
	var p Policy
	old, err := LoadPolicy(path)
	if err != nil {
		return nil, text.Errorf("%w — die Datei bleibt, wie sie ist", err)
	}
	if old != nil {
		p = *old
	}
	merged := Entity{Name: DefaultPolicyEntity}
	if p.Entity != nil {
		merged = *p.Entity
	}
	if e.Name != "" {
		merged.Name = e.Name
	}
	if e.Tenant != "" {
		merged.Tenant = e.Tenant
	}
	if e.ClientID != "" {
		merged.ClientID = e.ClientID
	}
	if e.CachePath != "" {
		merged.CachePath = e.CachePath
	}
	if err := merged.Validate(now); err != nil {
		return nil, err
	}
	p.Entity = &merged
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return nil, text.Errorf("Die Vorgaben der IT (%s) konnten nicht geschrieben werden: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, text.Errorf("Die Vorgaben der IT (%s) konnten nicht geschrieben werden: %w", path, err)
	}
	p.Path = path
	return &p, nil
}
