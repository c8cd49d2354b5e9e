package config

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound means that the entity or worker does not exist.
var ErrNotFound = errors.New("config: not found")

// NotFoundError names what does not exist; it is ErrNotFound.
type NotFoundError struct {
	Kind string // "entity" or "worker"
	Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q: %v", e.Kind, e.Name, ErrNotFound) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Repo reads and writes the configuration tables of kanzleisync's store.
type Repo struct {
	policy *Policy
	db     *sql.DB
	now    func() time.Time
}

// NewRepo works on the tables that store's migrations create.
func NewRepo(db *sql.DB) *Repo { return &Repo{db: db, now: time.Now} }

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTS(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

// SaveEntity validates and stores an entity (insert or update).
func (r *Repo) SaveEntity(ctx context.Context, e Entity) error {
	if err := r.checkEntityPolicy(e); err != nil {
		return err
	}
	return r.saveEntity(ctx, e)
}

func (r *Repo) saveEntity(ctx context.Context, e Entity) error {
	e = e.WithDefaults()
	if err := e.Validate(r.now()); err != nil {
		return err
	}
	var exp any
	if !e.SecretExpires.IsZero() {
		exp = e.SecretExpires.String()
	}
	_, err := r.db.ExecContext(ctx, `INSERT INTO entity (name, tenant, client_id, secret_expires, authority_host, graph_endpoint, cache_path, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id,
			secret_expires = excluded.secret_expires, authority_host = excluded.authority_host,
			graph_endpoint = excluded.graph_endpoint, cache_path = excluded.cache_path, updated_at = excluded.updated_at`,
		e.Name, e.Tenant, e.ClientID, exp, e.AuthorityHost, e.GraphEndpoint, e.CachePath, ts(r.now()))
	if err != nil {
		return fmt.Errorf("save entity %s: %w", e.Name, err)
	}
	return nil
}

// Entity reads one entity.
func (r *Repo) Entity(ctx context.Context, name string) (Entity, error) {
	var e Entity
	var exp sql.NullString
	err := r.db.QueryRowContext(ctx, `SELECT name, tenant, client_id, secret_expires, authority_host, graph_endpoint, cache_path FROM entity WHERE name = ?`, name).
		Scan(&e.Name, &e.Tenant, &e.ClientID, &exp, &e.AuthorityHost, &e.GraphEndpoint, &e.CachePath)
	if errors.Is(err, sql.ErrNoRows) {
		return Entity{}, &NotFoundError{Kind: "entity", Name: name}
	}
	if err != nil {
		return Entity{}, fmt.Errorf("read entity %s: %w", name, err)
	}
	if exp.Valid {
		e.SecretExpires, _ = ParseDate(exp.String)
	}
	return e.WithDefaults(), nil // values leave the Repo with their defaults, once
}

// Entities lists all entities by name.
func (r *Repo) Entities(ctx context.Context) ([]Entity, error) {
	names, err := r.keys(ctx, `SELECT name FROM entity ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list entities: %w", err)
	}
	out := make([]Entity, 0, len(names))
	for _, n := range names {
		e, err := r.Entity(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// keys runs a query that returns one text column.
func (r *Repo) keys(ctx context.Context, query string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (r *Repo) entityNames(ctx context.Context) ([]string, error) {
	es, err := r.Entities(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
	}
	return names, nil
}

// SaveWorker validates and stores a worker with its mail accounts. The
// times of sign-in and refresh are kept as they are.
func (r *Repo) SaveWorker(ctx context.Context, w Worker) error {
	for i := range w.Accounts {
		w.Accounts[i] = w.Accounts[i].WithDefaults()
	}
	names, err := r.entityNames(ctx)
	if err != nil {
		return err
	}
	if err := w.Validate(names); err != nil {
		return err
	}
	mods := make([]string, len(w.Modules))
	for i, m := range w.Modules {
		mods[i] = string(m)
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO worker (upn, display_name, entity, modules, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (upn) DO UPDATE SET display_name = excluded.display_name, entity = excluded.entity,
			modules = excluded.modules, updated_at = excluded.updated_at`,
		w.UPN, w.DisplayName, w.Entity, strings.Join(mods, ","), ts(r.now())); err != nil {
		return fmt.Errorf("save worker %s: %w", w.UPN, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM mail_account WHERE worker = ?`, w.UPN); err != nil {
		return err
	}
	for _, a := range w.Accounts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mail_account (worker, address, mailbox, transport, pop3_host, pop3_port, pop3_tls, smtp_host, smtp_port, drop_dir, leave_days, graph_move_to)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.UPN, a.Address, a.Mailbox, a.Transport, a.POP3Host, a.POP3Port, a.POP3TLS, a.SMTPHost, a.SMTPPort, a.DropDir,
			a.LeaveDays, a.GraphMoveTo); err != nil {
			return fmt.Errorf("save account %s: %w", a.Address, err)
		}
	}
	return tx.Commit()
}

// Worker reads one worker with accounts and sign-in times.
func (r *Repo) Worker(ctx context.Context, upn string) (Worker, error) {
	var w Worker
	var mods string
	var signIn, refresh sql.NullString
	err := r.db.QueryRowContext(ctx, `SELECT upn, display_name, entity, modules, last_sign_in, last_refresh FROM worker WHERE upn = ?`, upn).
		Scan(&w.UPN, &w.DisplayName, &w.Entity, &mods, &signIn, &refresh)
	if errors.Is(err, sql.ErrNoRows) {
		return Worker{}, &NotFoundError{Kind: "worker", Name: upn}
	}
	if err != nil {
		return Worker{}, fmt.Errorf("read worker %s: %w", upn, err)
	}
	for _, m := range strings.Split(mods, ",") {
		if m != "" {
			w.Modules = append(w.Modules, Module(m))
		}
	}
	w.LastSignIn, w.LastRefresh = parseTS(signIn), parseTS(refresh)
	rows, err := r.db.QueryContext(ctx, `SELECT address, mailbox, transport, pop3_host, pop3_port, pop3_tls, smtp_host, smtp_port, drop_dir, leave_days, graph_move_to
		FROM mail_account WHERE worker = ? ORDER BY mailbox DESC, address`, w.UPN)
	if err != nil {
		return Worker{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var a MailAccount
		if err := rows.Scan(&a.Address, &a.Mailbox, &a.Transport, &a.POP3Host, &a.POP3Port, &a.POP3TLS, &a.SMTPHost, &a.SMTPPort, &a.DropDir, &a.LeaveDays, &a.GraphMoveTo); err != nil {
			return Worker{}, err
		}
		w.Accounts = append(w.Accounts, a)
	}
	return w, rows.Err()
}

// Workers lists all workers by UPN.
func (r *Repo) Workers(ctx context.Context) ([]Worker, error) {
	upns, err := r.keys(ctx, `SELECT upn FROM worker ORDER BY upn`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	out := make([]Worker, 0, len(upns))
	for _, u := range upns {
		w, err := r.Worker(ctx, u)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// DeleteWorker removes a worker and its accounts.
func (r *Repo) DeleteWorker(ctx context.Context, upn string) error {
	_, err := r.db.ExecContext(ctx, `DELETE FROM worker WHERE upn = ?`, upn)
	return err
}

// RecordSignIn stores when a worker signed in in the browser.
func (r *Repo) RecordSignIn(ctx context.Context, upn string, at time.Time) error {
	return r.recordTime(ctx, "last_sign_in", upn, at)
}

// RecordRefresh stores when a worker's refresh token was last redeemed.
func (r *Repo) RecordRefresh(ctx context.Context, upn string, at time.Time) error {
	return r.recordTime(ctx, "last_refresh", upn, at)
}

func (r *Repo) recordTime(ctx context.Context, column, upn string, at time.Time) error {
	res, err := r.db.ExecContext(ctx, `UPDATE worker SET `+column+` = ? WHERE upn = ?`, ts(at), upn)
	if err != nil {
		return fmt.Errorf("record %s for %s: %w", column, upn, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record %s: %w", column, &NotFoundError{Kind: "worker", Name: upn})
	}
	return nil
}

// Settings reads the firm settings (defaults for what was never set).
func (r *Repo) Settings(ctx context.Context) (Settings, error) {
	s := DefaultSettings()
	var raw string
	err := r.db.QueryRowContext(ctx, `SELECT value FROM setting WHERE key = 'firm'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read settings: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return DefaultSettings(), fmt.Errorf("read settings: %w", err)
	}
	return s, nil
}

// SaveSettings validates and stores the firm settings.
func (r *Repo) SaveSettings(ctx context.Context, s Settings) error {
	if err := r.checkSettingsPolicy(s); err != nil {
		return err
	}
	return r.saveSettings(ctx, s)
}

func (r *Repo) saveSettings(ctx context.Context, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b, _ := json.Marshal(s)
	_, err := r.db.ExecContext(ctx, `INSERT INTO setting (key, value) VALUES ('firm', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b))
	return err
}

// entityExport is the file format for rolling an entity out to many
// workstations. It never contains the client secret.
type entityExport struct {
	Format string `json:"format"`
	Entity
}

const exportFormat = "kanzleisync-entity/1"

// ExportEntity writes an entity's settings as JSON, without the secret.
func (r *Repo) ExportEntity(ctx context.Context, name string) ([]byte, error) {
	e, err := r.Entity(ctx, name)
	if err != nil {
		return nil, err
	}
	e.CachePath = "" // belongs to this workstation
	return json.MarshalIndent(entityExport{Format: exportFormat, Entity: e}, "", "  ")
}

// ImportEntity reads an exported entity, validates and stores it. The
// client secret must then be entered on the workstation.
func (r *Repo) ImportEntity(ctx context.Context, data []byte) (Entity, error) {
	if !utf8.Valid(data) {
		v := &ValidationError{}
		v.add("file", "Die Datei ist nicht als UTF-8 gespeichert (oft: ANSI oder Windows-1252 aus einem Editor). Bitte die Datei neu exportieren oder im Editor als UTF-8 speichern.")
		return Entity{}, v
	}
	var in entityExport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		// the decoder's English is turned into what a person can act on
		v := &ValidationError{}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			v.add("file", "Die Datei enthält das unbekannte Feld „%s“. Ein geheimer Schlüssel gehört nie in die Datei; er wird auf jedem Arbeitsplatz eingegeben.", field)
		} else {
			v.add("file", "Die Datei ist keine gültige Entitäts-Datei von kanzleisync: %s.", jsonProblem(err))
		}
		return Entity{}, v
	}
	if _, err := dec.Token(); err != io.EOF {
		// a second object after the entity (a pasted secret, another
		// entity) would otherwise be dropped without a word
		v := &ValidationError{}
		v.add("file", "Die Datei enthält nach der Entität weitere Daten. Eine Entitäts-Datei enthält genau ein JSON-Objekt; bitte die Datei neu exportieren.")
		return Entity{}, v
	}
	if in.Format != exportFormat {
		v := &ValidationError{}
		v.add("file", "Die Datei hat das Format „%s“, erwartet wird „%s“.", in.Format, exportFormat)
		return Entity{}, v
	}
	in.Entity.CachePath = "" // a path of another workstation means nothing here
	if err := r.SaveEntity(ctx, in.Entity); err != nil {
		return Entity{}, err
	}
	return in.Entity.WithDefaults(), nil
}
