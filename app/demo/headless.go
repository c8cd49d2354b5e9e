package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/handoff"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/mail"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// help is the demo window's welcome text, with the two demo passwords.
var help = text.Mark(`Willkommen zur Demo von kanzleisync. Microsoft 365 ist hier ein eingebauter Emulator auf diesem Rechner: kein Microsoft-Konto nötig, nichts verlässt den Rechner.

1. Anmelden: „Anmelden: Anna Müller“ öffnet die Anmeldeseite im Browser. Passwort: %s
2. „Anbindung testen“: die Punkte werden grün.
3. „Testmail senden“: die Mail kommt im POP3-Postfach an; „Konten verwalten“ zeigt den Abruf und, was im Kommunikator einzutragen ist (lokaler POP3-Server, Benutzer, „Passwort kopieren“). Unten in diesem Fenster holt „Im Kommunikator abrufen“ sie so ab, wie es die Kanzleisoftware täte; erst danach löscht kanzleisync sie bei Microsoft 365.
4. „Jetzt synchronisieren“: Termine, Fristen und Adressen aus dem Demo-Bestand wandern nach Outlook.
5. „Einstellungen“: Entität und Kanzlei-Einstellungen ändert nur der Administrator (Demo-Passwort: %s); dort auch „Schnittstelle aktiv“.
6. „Demo: etwas kaputt machen“: Clientschlüssel ablaufen lassen, Zustimmung entziehen, SMTP AUTH abschalten, drosseln, den Cache leer wiederherstellen – und sehen, was kanzleisync dazu sagt.

Das Tray-Symbol (falls der Desktop eins zeigt) hat dasselbe Menü. Schließen eines Fensters lässt kanzleisync im Tray weiterlaufen.`)

// Help is the demo window's welcome text in the current language.
func Help() string { return text.F(help, m365sim.DemoPassword, AdminPassword) }

// Robot answers the emulator's sign-in pages for the user named in the
// link, as the demo's stand-in for a person at a browser; errors go to
// report (nil: dropped).
func Robot(report func(error)) func(string) error {
	return m365sim.AnswerSignIn(m365sim.DemoPassword, report)
}

// printer writes the headless demo's lines to its writer.
type printer struct{ w io.Writer }

func (p printer) Println(a ...any)          { fmt.Fprintln(p.w, a...) }
func (p printer) Printf(f string, a ...any) { fmt.Fprintf(p.w, f, a...) }
func (p printer) Print(a ...any)            { fmt.Fprint(p.w, a...) }

// Headless is the demo without windows, written to out: the emulator, a
// sign-in link (answered by the Robot), Anbindung testen, one export cycle,
// and a test mail fetched again over POP3. It returns the exit code.
func (d *Demo) Headless(ctx context.Context, w io.Writer, st *store.Store, repo *config.Repo, m *auth.Manager, logger *slog.Logger) int {
	fmt := printer{w}
	sim := d.Sim
	fmt.Printf(text.T(`
Microsoft-365-Emulator (nur auf diesem Rechner)
  Entra ID   %s
  Graph      %s
  POP3 (TLS) %s
  SMTP       %s
`), sim.AuthorityURL(m365sim.DemoTenantID), sim.GraphURL(), sim.POP3SAddr(), sim.SMTPAddr())
	anna := d.Workers[0]
	fmt.Printf(text.T("\n1. Anmeldung von %s (%s). Anmeldelink:\n"), anna.DisplayName, anna.UPN)
	walk := Robot(nil)
	_, err := m.SignIn(ctx, anna.UPN, auth.SignInOptions{Timeout: 30 * time.Second, OpenBrowser: func(link string) error {
		fmt.Printf(text.T("   %s\n   Ohne Browser meldet die Demo %s selbst über die Seiten des Emulators an (Passwort %s).\n"), link, anna.DisplayName, m365sim.DemoPassword)
		return walk(link)
	}})
	if err != nil {
		fmt.Println(text.T("   Anmeldung fehlgeschlagen:"), auth.Explain(err, auth.Context{Entity: d.Entity, UPN: anna.UPN}).String())
		return 1
	}
	fmt.Println(text.T("   angemeldet; das Refresh-Token liegt im Schlüsselbund."))

	fmt.Println(text.T("\n2. Anbindung testen:"))
	dg := core.NewDiagnoser(repo, m, d.MailTLS, nil)
	for _, subject := range []func() (string, error){
		func() (string, error) {
			r, err := dg.Entity(ctx, d.Entity.Name)
			return reportText(r.Subject, r.Checks), err
		},
		func() (string, error) {
			r, err := dg.Worker(ctx, anna.UPN)
			return reportText(r.Subject, r.Checks), err
		},
	} {
		text, err := subject()
		if err != nil {
			fmt.Println("   ", err)
			continue
		}
		fmt.Print(text)
	}

	fmt.Println(text.T("\n3. Eine Synchronisation (Anna Müller; die anderen Sachbearbeiter sind nicht angemeldet):"))
	installation, err := st.InstallationID(ctx)
	if err != nil {
		fmt.Println("   ", err)
		return 1
	}
	r := &export.Runner{Entity: d.Entity.Name, Repo: repo, Store: st, Installation: installation, Logger: logger,
		Tokens: func(upn string) graph.TokenSource { return m.Graph(upn) }}
	start := time.Now()
	out, err := r.Cycle(ctx, false)
	fmt.Printf("   %s: %s (%.1f s)\n", anna.UPN, out[anna.UPN], time.Since(start).Seconds())
	for _, w := range d.Workers[1:] {
		fmt.Printf(text.T("   %s: nicht angemeldet – in der Tray-Anwendung „Anmelden“ wählen\n"), w.UPN)
	}
	if err != nil && out[anna.UPN] == "" {
		fmt.Println(text.T("   Synchronisation fehlgeschlagen:"), core.Explain(err, d.Entity, anna.UPN))
		return 1
	}

	fmt.Println(text.T("\n4. Testmail von Anna an sich selbst über SMTP, dann Abruf über POP3:"))
	var acc config.MailAccount
	for _, a := range anna.Accounts {
		if a.Transport != config.GraphMail {
			acc = a
		}
	}
	rep := core.SendTestMail(ctx, m, d.MailTLS, d.Entity, anna, acc, "")
	fmt.Print(indent(rep.Text()))
	pop, _ := mail.Endpoints(acc, d.MailTLS)
	res, err := (&mail.Fetcher{Store: st, Tokens: m.Outlook(anna.UPN), Logger: logger}).Fetch(ctx, pop)
	if err != nil {
		fmt.Println(text.T("   POP3-Abruf fehlgeschlagen:"), core.Explain(err, d.Entity, anna.UPN))
		return 1
	}
	fmt.Printf(text.T("   POP3-Abruf: %s gespeichert; sie bleiben auf dem Server, bis der Kommunikator sie abgeholt hat.\n"), text.N(res.Fetched, "neue Nachricht", "neue Nachrichten"))

	fmt.Println(text.T("\n5. Im Kommunikator abrufen (über den lokalen POP3-Server von kanzleisync):"))
	n, err := d.FetchAsKommunikator(ctx, st, m, acc.Address, logger)
	if err != nil {
		fmt.Println(text.T("   Abruf durch den Kommunikator fehlgeschlagen:"), core.Explain(err, d.Entity, anna.UPN))
		return 1
	}
	fmt.Printf(text.T("   %s an den Kommunikator übergeben.\n"), text.N(n, "Nachricht", "Nachrichten"))
	if res, err = (&mail.Fetcher{Store: st, Tokens: m.Outlook(anna.UPN), Logger: logger}).Fetch(ctx, pop); err != nil {
		fmt.Println(text.T("   POP3-Abruf fehlgeschlagen:"), core.Explain(err, d.Entity, anna.UPN))
		return 1
	}
	fmt.Printf(text.T("   Nächster Abruf: %s jetzt auf dem Server von Microsoft 365 gelöscht – die Mail liegt beim Kommunikator.\n"), text.N(res.Deleted, "Nachricht", "Nachrichten"))
	fmt.Println(text.T("\nMit einer Anzeige (DISPLAY) zeigt `make run` dasselbe in der Tray-Anwendung; „Konten verwalten“ zeigt, was im Kommunikator einzutragen ist."))
	return 0
}

// FetchAsKommunikator plays the Kommunikator once: it starts a local POP3
// server like the tray's, signs in with the account's local password,
// fetches and deletes every waiting message and quits. It returns how many
// it took.
func (d *Demo) FetchAsKommunikator(ctx context.Context, st *store.Store, m *auth.Manager, address string, logger *slog.Logger) (int, error) {
	pw, err := m.LocalPassword(address)
	if err != nil {
		return 0, err
	}
	srv := &handoff.POP3Server{Store: st, Logger: logger, Passwords: func(a string) (string, bool) { return pw, strings.EqualFold(a, address) }}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = srv.Serve(sctx, ln) }()
	return handoff.TakeAll(ctx, ln.Addr().String(), address, pw)
}

func reportText(subject string, checks []diagnose.Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "   %s\n", subject)
	for _, c := range checks {
		fmt.Fprintf(&b, "     %-5s %-12s %s\n", c.Status.Label(), c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "           → %s\n", c.Fix)
		}
	}
	return b.String()
}

func indent(s string) string {
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}
