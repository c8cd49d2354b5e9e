package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/demo"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/mail"
	"kanzleisync/ui"
)

const demoHelp = `Willkommen zur Demo von kanzleisync. Microsoft 365 ist hier ein eingebauter Emulator auf diesem Rechner: kein Microsoft-Konto nötig, nichts verlässt den Rechner.

1. Anmelden: „Anmelden: Anna Müller“ öffnet die Anmeldeseite im Browser. Passwort: ` + m365sim.DemoPassword + `
2. „Anbindung testen“: die Punkte werden grün.
3. „Testmail senden“: die Mail kommt im POP3-Postfach an (Konten verwalten zeigt den Abruf).
4. „Jetzt synchronisieren“: Termine, Fristen und Adressen aus dem Demo-Bestand wandern nach Outlook.
5. „Einstellungen“: Entität und Kanzlei-Einstellungen ändert nur der Administrator (Demo-Passwort: ` + demo.AdminPassword + `); dort auch „Schnittstelle aktiv“.
6. „Demo: etwas kaputt machen“: Clientschlüssel ablaufen lassen, Zustimmung entziehen, SMTP AUTH abschalten, drosseln – und sehen, was kanzleisync dazu sagt.

Das Tray-Symbol (falls der Desktop eins zeigt) hat dasselbe Menü. Schließen eines Fensters lässt kanzleisync im Tray weiterlaufen.`

// runDemo starts the emulator in-process with a demo tenant and cache and
// runs the tray application against it; without a display it runs what it
// can in the terminal.
func runDemo(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	noWindow := fs.Bool("headless", false, "ohne Fenster: Emulator, Anmeldelink, ein Abgleich, Testmail")
	shots := fs.String("screenshots", "", "jedes Fenster als PNG in dieses Verzeichnis schreiben und beenden")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d, err := demo.Start(ctx, e.dataDir, e.repo, e.auth, e.logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Demo:", auth.Explain(err, auth.Context{}).String())
		return 1
	}
	defer d.Close()
	if *noWindow || headless() {
		if !*noWindow {
			fmt.Println("Keine grafische Anzeige gefunden (DISPLAY ist nicht gesetzt): die Demo zeigt im Terminal, was ohne Fenster geht.")
		}
		return headlessDemo(ctx, e, d)
	}
	var actions []ui.Action
	for _, b := range d.Breakages() {
		actions = append(actions, ui.Action{Label: b.Label, Do: func(ctx context.Context) error { return b.Apply(ctx, e.repo) }})
	}
	x := &trayExtras{mailTLS: d.MailTLS, demo: actions, help: demoHelp}
	if *shots != "" {
		x.openURL = robot() // nobody types the password while screenshots are taken
		x.after = func(ctx context.Context, fa fyne.App, a *ui.App, eng *core.Engine) {
			if err := screenshots(ctx, *shots, d, a, eng); err != nil {
				fmt.Fprintln(os.Stderr, "screenshots:", err)
			}
			fyne.Do(fa.Quit)
		}
	}
	return runTray(ctx, e, x)
}

// robot answers the emulator's sign-in pages for the user named in the
// link, as the demo's stand-in for a person at a browser.
func robot() func(string) error {
	return m365sim.AnswerSignIn(m365sim.DemoPassword, func(err error) { fmt.Fprintln(os.Stderr, "Demo-Anmeldung:", err) })
}

// headlessDemo: the emulator, a sign-in link, Anbindung testen, one export
// cycle, and a test mail fetched again over POP3.
func headlessDemo(ctx context.Context, e env, d *demo.Demo) int {
	sim := d.Sim
	fmt.Printf(`
Microsoft-365-Emulator (nur auf diesem Rechner)
  Entra ID   %s
  Graph      %s
  POP3 (TLS) %s
  SMTP       %s
`, sim.AuthorityURL(m365sim.DemoTenantID), sim.GraphURL(), sim.POP3SAddr(), sim.SMTPAddr())
	anna := d.Workers[0]
	fmt.Printf("\n1. Anmeldung von %s (%s). Anmeldelink:\n", anna.DisplayName, anna.UPN)
	walk := robot()
	_, err := e.auth.SignIn(ctx, anna.UPN, auth.SignInOptions{Timeout: 30 * time.Second, OpenBrowser: func(link string) error {
		fmt.Printf("   %s\n   Ohne Browser meldet die Demo %s selbst über die Seiten des Emulators an (Passwort %s).\n", link, anna.DisplayName, m365sim.DemoPassword)
		return walk(link)
	}})
	if err != nil {
		fmt.Println("   Anmeldung fehlgeschlagen:", auth.Explain(err, auth.Context{Entity: d.Entity, UPN: anna.UPN}).String())
		return 1
	}
	fmt.Println("   angemeldet; das Refresh-Token liegt im Schlüsselbund.")

	fmt.Println("\n2. Anbindung testen:")
	dg := core.NewDiagnoser(e.repo, e.auth, d.MailTLS, nil)
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

	fmt.Println("\n3. Ein Abgleich (Anna Müller; die anderen Sachbearbeiter sind nicht angemeldet):")
	installation, err := e.store.InstallationID(ctx)
	if err != nil {
		fmt.Println("   ", err)
		return 1
	}
	r := &export.Runner{Entity: d.Entity.Name, Repo: e.repo, Store: e.store, Installation: installation, Logger: e.logger,
		Tokens: func(upn string) graph.TokenSource { return e.auth.Graph(upn) }}
	start := time.Now()
	out, err := r.Cycle(ctx, false)
	fmt.Printf("   %s: %s (%.1f s)\n", anna.UPN, out[anna.UPN], time.Since(start).Seconds())
	for _, w := range d.Workers[1:] {
		fmt.Printf("   %s: nicht angemeldet – in der Tray-Anwendung „Anmelden“ wählen\n", w.UPN)
	}
	if err != nil && out[anna.UPN] == "" {
		fmt.Println("   Abgleich fehlgeschlagen:", core.Explain(err, d.Entity, anna.UPN))
		return 1
	}

	fmt.Println("\n4. Testmail von Anna an sich selbst über SMTP, dann Abruf über POP3:")
	var acc config.MailAccount
	for _, a := range anna.Accounts {
		if a.Transport != config.GraphMail {
			acc = a
		}
	}
	rep := core.SendTestMail(ctx, e.auth, d.MailTLS, d.Entity, anna, acc, "")
	fmt.Print(indent(rep.Text()))
	pop, _ := mail.Endpoints(acc, d.MailTLS)
	res, err := (&mail.Fetcher{Store: e.store, Tokens: e.auth.Outlook(anna.UPN), Logger: e.logger}).Fetch(ctx, pop)
	if err != nil {
		fmt.Println("   POP3-Abruf fehlgeschlagen:", core.Explain(err, d.Entity, anna.UPN))
		return 1
	}
	fmt.Printf("   POP3-Abruf: %d neue Nachricht(en) gespeichert und auf dem Server gelöscht.\n", res.Fetched)
	fmt.Println("\nMit einer Anzeige (DISPLAY) zeigt `make run` dasselbe in der Tray-Anwendung.")
	return 0
}

func reportText(subject string, checks []diagnose.Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "   %s\n", subject)
	for _, c := range checks {
		fmt.Fprintf(&b, "     %-5s %-12s %s\n", c.Status, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "           → %s\n", c.Fix)
		}
	}
	return b.String()
}

func indent(s string) string {
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}
