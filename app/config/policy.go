package config

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"kanzleisync/app/text"
)

// Policy is the settings file IT deploys (JSON, read-only to users, e.g.
// by group policy into %ProgramData%\kanzleisync\policy.json or
// /etc/kanzleisync/policy.json). Its values win over what is stored and
// are shown as locked. It never holds a secret.
type Policy struct {
	Entity   *Entity                    `json:"entity,omitempty"`
	Settings map[string]json.RawMessage `json:"settings,omitempty"` // keys as in the settings' JSON, e.g. "interfaceActive"
	Path     string                     `json:"-"`
}

// LoadPolicy reads the deployed settings; a missing file is no policy.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, text.Errorf("Die Vorgaben der IT (%s) sind nicht lesbar: %w", path, err)
	}
	if !utf8.Valid(b) {
		return nil, text.Errorf("Die Vorgaben der IT (%s) sind nicht als UTF-8 gespeichert (oft: ANSI oder Windows-1252 aus einem Editor). Bitte die Datei als UTF-8 speichern oder mit „kanzleisync policy set“ neu schreiben", path)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, text.Errorf("Die Vorgaben der IT (%s) sind kein gültiges JSON: %s", path, jsonProblem(err))
	}
	if strings.Contains(strings.ToLower(string(b)), `"secret"`) || strings.Contains(strings.ToLower(string(b)), `"clientsecret"`) {
		return nil, text.Errorf("Die Vorgaben der IT (%s) enthalten einen geheimen Schlüssel; der gehört nur in den Schlüsselspeicher. Bitte aus der Datei entfernen", path)
	}
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, text.Errorf("Die Vorgaben der IT (%s) sind fehlerhaft: %s (erlaubt: \"entity\", \"settings\")", path, jsonProblem(err))
	}
	known := settingKeys()
	for k := range p.Settings {
		if !slices.Contains(known, k) {
			return nil, text.Errorf("Die Vorgaben der IT (%s) nennen die unbekannte Einstellung %q (bekannt: %s)", path, k, strings.Join(known, ", "))
		}
	}
	if p.Settings != nil {
		if _, err := p.applySettings(DefaultSettings()); err != nil {
			return nil, text.Errorf("Die Vorgaben der IT (%s): %v", path, err)
		}
	}
	p.Path = path
	return &p, nil
}

// settingKeys are the JSON keys of every setting, those left out when
// empty (omitempty) included.
func settingKeys() []string {
	t := reflect.TypeFor[Settings]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	slices.Sort(keys)
	return keys
}

func (p *Policy) applySettings(s Settings) (Settings, error) {
	if p == nil || len(p.Settings) == 0 {
		return s, nil
	}
	b, _ := json.Marshal(s)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	for k, v := range p.Settings {
		m[k] = v
	}
	b, _ = json.Marshal(m)
	var out Settings
	if err := json.Unmarshal(b, &out); err != nil {
		return s, err
	}
	return out, out.Validate()
}

// LockedSettings are the settings' JSON keys the policy fixes.
func (p *Policy) LockedSettings() []string {
	if p == nil {
		return nil
	}
	keys := make([]string, 0, len(p.Settings))
	for k := range p.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// LockedEntity reports whether the policy fixes the entity of that name.
func (p *Policy) LockedEntity(name string) bool {
	return p != nil && p.Entity != nil && p.Entity.Name == name
}

// ErrLocked: a value comes from the policy and cannot be changed here.
type ErrLocked struct{ Field, Path string }

func (e *ErrLocked) Error() string {
	return text.F("„%s“ wird von der IT vorgegeben (%s) und kann hier nicht geändert werden.", e.Field, e.Path)
}

// SetPolicy makes the deployed values win: they are written into the
// configuration at once, and saving anything that contradicts them fails.
func (r *Repo) SetPolicy(ctx context.Context, p *Policy) error {
	r.policy = p
	if p == nil {
		return nil
	}
	if p.Entity != nil {
		e := *p.Entity
		if old, err := r.Entity(ctx, e.Name); err == nil && e.CachePath == "" {
			e.CachePath = old.CachePath
		}
		if err := r.saveEntity(ctx, e); err != nil {
			return text.Errorf("Vorgaben der IT (%s): %w", p.Path, err)
		}
	}
	if len(p.Settings) > 0 {
		s, err := r.Settings(ctx)
		if err != nil {
			return err
		}
		if s, err = p.applySettings(s); err != nil {
			return err
		}
		if err := r.saveSettings(ctx, s); err != nil {
			return text.Errorf("Vorgaben der IT (%s): %w", p.Path, err)
		}
	}
	return nil
}

// Policy is the deployed policy (nil: none).
func (r *Repo) Policy() *Policy { return r.policy }

func (r *Repo) checkEntityPolicy(e Entity) error {
	p := r.policy
	if !p.LockedEntity(e.Name) {
		return nil
	}
	want := *p.Entity
	if want.CachePath == "" {
		want.CachePath = e.CachePath
	}
	if entityFields(e) != entityFields(want) {
		return &ErrLocked{Field: text.F("Entität %s", e.Name), Path: p.Path}
	}
	return nil
}

func entityFields(e Entity) string {
	e = e.WithDefaults()
	return strings.Join([]string{e.Name, e.Tenant, e.ClientID, e.SecretExpires.String(), e.AuthorityHost, e.GraphEndpoint, e.CachePath}, "\x00")
}

func (r *Repo) checkSettingsPolicy(s Settings) error {
	p := r.policy
	if p == nil || len(p.Settings) == 0 {
		return nil
	}
	fixed, err := p.applySettings(s)
	if err != nil {
		return err
	}
	if fixed != s {
		b1, _ := json.Marshal(s)
		var got map[string]json.RawMessage
		_ = json.Unmarshal(b1, &got)
		for _, k := range p.LockedSettings() {
			if string(got[k]) != string(p.Settings[k]) {
				return &ErrLocked{Field: k, Path: p.Path}
			}
		}
	}
	return nil
}

// jsonProblem says in words where a JSON file breaks, instead of the
// decoder's English.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return text.F("das Feld „%s“ ist unbekannt", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	case errors.As(err, &syntax):
		return text.F("kein gültiges JSON (Fehler bei Zeichen %d)", syntax.Offset)
	case errors.As(err, &typ):
		return text.F("das Feld „%s“ hat den falschen Typ", typ.Field)
	}
	return text.T("die Datei ist leer oder abgeschnitten")
}
