package core

import (
	"context"
	"crypto/tls"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// NewDiagnoser wires "Anbindung testen" to the sign-ins of m.
func NewDiagnoser(repo *config.Repo, m *auth.Manager, mailTLS *tls.Config, now func() time.Time) *diagnose.Diagnoser {
	return &diagnose.Diagnoser{Repo: repo, Now: now,
		RedirectURI:   fmt.Sprintf("http://localhost:%d%s", config.DefaultRedirectPort, config.DefaultRedirectPath),
		GraphTokens:   func(upn string) graph.TokenSource { return m.Graph(upn) },
		AppTokens:     func(entity string) graph.TokenSource { return m.App(entity) },
		OutlookTokens: func(upn string) graph.TokenSource { return m.Outlook(upn) },
		SecretHint:    m.ClientSecretHint,
		CertificateEnd: func(entity string) time.Time {
			if c, err := m.Certificate(entity); err == nil {
				return c.Cert.NotAfter
			}
			return time.Time{}
		},
		CertificateID: func(entity string) string {
			if c, err := m.Certificate(entity); err == nil {
				return c.SHA1Thumbprint()
			}
			return ""
		},
		MailTLS: mailTLS}
}

// DiagnoseAll checks every entity and every case worker.
func DiagnoseAll(ctx context.Context, dg *diagnose.Diagnoser) ([]diagnose.Report, error) {
	ents, err := dg.Repo.Entities(ctx)
	if err != nil {
		return nil, err
	}
	workers, err := dg.Repo.Workers(ctx)
	if err != nil {
		return nil, err
	}
	var reports []diagnose.Report
	for _, e := range ents {
		r, err := dg.Entity(ctx, e.Name)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	for _, w := range workers {
		r, err := dg.Worker(ctx, w.UPN)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// Diagnose runs "Anbindung testen" for everything configured.
func (e *Engine) Diagnose(ctx context.Context) ([]diagnose.Report, error) {
	return DiagnoseAll(ctx, NewDiagnoser(e.o.Repo, e.o.Auth, e.o.MailTLS, e.o.Now))
}

// SendTestMail sends a test mail from a worker's account over the account's
// transport. to empty: the account itself.
func SendTestMail(ctx context.Context, m *auth.Manager, mailTLS *tls.Config, ent config.Entity, w config.Worker, a config.MailAccount, to string) mail.TestMailReport {
	tr := mail.Transport{TLS: mailTLS, GraphEndpoint: ent.GraphEndpoint, Graph: m.Graph(w.UPN), Outlook: m.Outlook(w.UPN)}
	return tr.SendTestMail(ctx, a, w.DisplayName, to)
}

// SendTestMail sends a test mail from the account address of worker upn.
func (e *Engine) SendTestMail(ctx context.Context, upn, address, to string) (mail.TestMailReport, error) {
	w, err := e.o.Repo.Worker(ctx, upn)
	if err != nil {
		return mail.TestMailReport{}, err
	}
	ent, err := e.o.Repo.Entity(ctx, w.Entity)
	if err != nil {
		return mail.TestMailReport{}, err
	}
	for _, a := range w.Accounts {
		if strings.EqualFold(a.Address, address) {
			rep := SendTestMail(ctx, e.o.Auth, e.o.MailTLS, ent, w, a, to)
			_, _, service, target := e.transport(ent, w).Targets(a)
			e.o.Transfer.Connection(service+" (Testmail)", a.Address, target, rep.Err)
			if rep.Err != nil {
				e.ReportSignInLost(ctx, rep.Err, upn)
			}
			return rep, nil
		}
	}
	return mail.TestMailReport{}, text.Errorf("%s hat kein Mailkonto %s", w.UPN, address)
}

// SignIn runs the browser sign-in of a worker and restarts the workers so
// that a fetch that failed for want of a sign-in runs again at once.
func (e *Engine) SignIn(ctx context.Context, upn string, so auth.SignInOptions) error {
	if _, err := e.o.Auth.SignIn(ctx, upn, so); err != nil {
		return err
	}
	w, err := e.o.Repo.Worker(ctx, upn)
	if err != nil {
		return err
	}
	e.mu.Lock()
	delete(e.signIn, strings.ToLower(upn))
	for _, a := range e.accounts {
		if strings.EqualFold(a.Worker, upn) {
			a.LastSignIn = w.LastSignIn
		}
	}
	e.mu.Unlock()
	e.RefreshWarnings(ctx)
	e.SyncNow()
	return nil
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.o.Now() }

// WriteJournalCSV writes journal entries as CSV for Excel: semicolons and a
// UTF-8 byte order mark, as German Excel expects.
func WriteJournalCSV(w io.Writer, entries []store.JournalEntry) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	if err := cw.Write([]string{text.T("Zeit"), text.T("Sachbearbeiter"), text.T("Eintrag"), text.T("Aktion"), text.T("Ergebnis"), text.T("Anfrage-ID"), text.T("Fehler"), text.T("Schlüssel")}); err != nil {
		return err
	}
	for _, e := range entries {
		row := []string{e.At.Local().Format("02.01.2006 15:04:05"), e.Worker, JournalTitle(e), JournalAction(e.Action), JournalResult(e.Result), e.RequestID, e.Error, e.ItemKey}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from running text as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Preview plans the next cycle of every entity without writing anything:
// per case worker, what it would do (German).
func (e *Engine) Preview(ctx context.Context) (map[string]string, error) {
	return Preview(ctx, e.o.Repo, e.o.Store, e.o.Auth)
}

// Preview plans the next cycle of every entity (see Engine.Preview).
func Preview(ctx context.Context, repo *config.Repo, st *store.Store, m *auth.Manager) (map[string]string, error) {
	return PreviewWith(ctx, repo, st, m, nil)
}

// PreviewWith is Preview under settings not saved yet (nil: the stored ones).
func PreviewWith(ctx context.Context, repo *config.Repo, st *store.Store, m *auth.Manager, s *config.Settings) (map[string]string, error) {
	ents, err := repo.Entities(ctx)
	if err != nil {
		return nil, err
	}
	installation, err := st.InstallationID(ctx)
	if err != nil {
		return nil, err
	}
	all := map[string]string{}
	var errs []error
	for _, ent := range ents {
		if ent.CachePath == "" {
			continue
		}
		r := &export.Runner{Entity: ent.Name, Repo: repo, Store: st, Installation: installation,
			Tokens: func(upn string) graph.TokenSource { return m.Graph(upn) }, Settings: s}
		out, err := r.Cycle(ctx, true)
		for upn, s := range out {
			all[upn+" ("+ent.Name+")"] = s
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return all, errors.Join(errs...)
}

// HeldDeletions lists the deletions the export holds back, every worker's.
func (e *Engine) HeldDeletions(ctx context.Context) ([]store.HeldDeletion, error) {
	return e.o.Store.HeldDeletions(ctx, "")
}

// ReleaseHeldDeletions lets the next cycle carry out a worker's held
// deletions (all workers' when upn is empty) and starts that cycle; only
// the administrator may.
func (e *Engine) ReleaseHeldDeletions(ctx context.Context, admin config.Admin, upn, who string) (int, error) {
	if !admin.Unlocked() {
		return 0, config.ErrAdminRequired
	}
	var workers []string
	if upn != "" {
		workers = []string{upn}
	}
	n, err := e.o.Store.ReleaseHeldDeletions(ctx, who, e.o.Now(), workers...)
	if err != nil {
		return 0, err
	}
	e.SyncNow()
	return n, nil
}
