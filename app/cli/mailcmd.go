package cli

import (
	"context"
	"fmt"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/text"
)

// workerAndEntity reads the worker named by --worker and its entity.
func workerAndEntity(ctx context.Context, d Deps, upn string) (config.Worker, config.Entity, error) {
	if upn == "" {
		return config.Worker{}, config.Entity{}, usageError(text.T("--worker fehlt"))
	}
	w, err := d.Repo.Worker(ctx, upn)
	if err != nil {
		return w, config.Entity{}, err
	}
	ent, err := d.Repo.Entity(ctx, w.Entity)
	return w, ent, err
}

func mailTestmail(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("mail testmail", d)
	upn := fs.String("worker", "", text.T("UPN des Sachbearbeiters"))
	address := fs.String("account", "", text.T("Mailkonto (ohne Angabe: das erste des Sachbearbeiters)"))
	to := fs.String("to", "", text.T("Empfänger (ohne Angabe: das Konto selbst)"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	w, ent, err := workerAndEntity(ctx, d, *upn)
	if err != nil {
		return err
	}
	var acc *config.MailAccount
	for i := range w.Accounts {
		if *address == "" || strings.EqualFold(w.Accounts[i].Address, *address) {
			acc = &w.Accounts[i]
			break
		}
	}
	switch {
	case acc == nil && *address == "":
		return text.Errorf("Der Sachbearbeiter %s hat kein Mailkonto; anlegen mit: kanzleisync config worker set --upn %s … --account ADRESSE", w.UPN, w.UPN)
	case acc == nil:
		return text.Errorf("Der Sachbearbeiter %s hat kein Mailkonto %s; anlegen mit: kanzleisync config worker set --upn %s … --account %s", w.UPN, *address, w.UPN, *address)
	}
	a := *acc
	rep := core.SendTestMail(ctx, d.Auth, d.MailTLS, ent, w, a, *to)
	fmt.Fprintf(d.Stdout, text.T("Testmail von %s:\n%s"), a.Address, rep.Text())
	if rep.Err != nil {
		return silent{rep.Err}
	}
	return nil
}

// mailKommunikator prints, per account of a worker, what to enter in the
// Kommunikator; the local password only when asked for (it is then on the
// screen and in the terminal's scrollback).
func mailKommunikator(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("mail kommunikator", d)
	upn := fs.String("worker", "", text.T("UPN des Sachbearbeiters"))
	show := fs.Bool("show-password", false, text.T("das lokale Passwort anzeigen"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	w, _, err := workerAndEntity(ctx, d, *upn)
	if err != nil {
		return err
	}
	set, err := d.Repo.Settings(ctx)
	if err != nil {
		return err
	}
	pop, smtp := set.LocalPOP3Addr(), set.LocalSMTPAddr()
	if pop == "" {
		return text.Errorf("Der lokale POP3-Server für den Kommunikator ist ausgeschaltet; einschalten mit: kanzleisync config settings set --local-pop3 %s", config.DefaultLocalPOP3)
	}
	if len(w.Accounts) == 0 {
		return text.Errorf("Der Sachbearbeiter %s hat kein Mailkonto; anlegen mit: kanzleisync config worker set --upn %s … --account ADRESSE", w.UPN, w.UPN)
	}
	for _, a := range w.Accounts {
		fmt.Fprintf(d.Stdout, text.T("Konto %s (im Kommunikator: Art des Kontos POP3)\n"), a.Address)
		fmt.Fprintf(d.Stdout, text.T("  Posteingang (POP3):   %s, ohne Verschlüsselung\n"), pop)
		if smtp != "" {
			fmt.Fprintf(d.Stdout, text.T("  Postausgang (SMTP):   %s, ohne Verschlüsselung, Anmeldung erforderlich\n"), smtp)
		}
		fmt.Fprintf(d.Stdout, text.T("  Benutzer:             %s\n"), a.Address)
		if *show {
			pw, err := d.Auth.LocalPassword(a.Address)
			if err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, text.T("  Passwort:             %s\n"), pw)
		} else {
			fmt.Fprintln(d.Stdout, text.T("  Passwort:             in der Tray-Anwendung „Konten verwalten“ → „Passwort kopieren“ (oder --show-password)"))
		}
	}
	return nil
}

// mailRetry ends the 24 h wait of an account's messages that broke a
// session: the next fetch (the tray's, within a minute) tries them again.
func mailRetry(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("mail retry", d)
	address := fs.String("account", "", text.T("Mailkonto"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	if *address == "" {
		return usageError(text.T("--account fehlt"))
	}
	n, err := d.Store.RetryAsideNow(ctx, *address, d.Now())
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(d.Stdout, text.F("Für %s ist keine Nachricht zurückgestellt.", *address))
		return nil
	}
	fmt.Fprintln(d.Stdout, text.F("%s: %s", *address, text.Nf(n, "%d zurückgestellte Nachricht wird beim nächsten Abruf erneut versucht (die Tray-Anwendung ruft jede Minute ab). Bricht sie wieder ab, wird sie erneut für 24 Stunden zurückgestellt; das Protokoll nennt den Grund.",
		"%d zurückgestellte Nachrichten werden beim nächsten Abruf erneut versucht (die Tray-Anwendung ruft jede Minute ab). Bricht eine wieder ab, wird sie erneut für 24 Stunden zurückgestellt; das Protokoll nennt den Grund.")))
	return nil
}
