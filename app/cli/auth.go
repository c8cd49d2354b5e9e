package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/text"
)

func authLogin(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("auth login", d)
	upn := fs.String("worker", "", text.T("UPN des Sachbearbeiters"))
	timeout := fs.Duration("timeout", 120*time.Second, text.T("wie lange auf die Anmeldung im Browser gewartet wird"))
	noBrowser := fs.Bool("no-browser", false, text.T("keinen Browser öffnen, nur die Adresse anzeigen"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	w, ent, err := workerAndEntity(ctx, d, *upn)
	if err != nil {
		return err
	}
	open := d.OpenBrowser
	if *noBrowser {
		open = func(string) error { return errors.New("no browser wanted") }
	}
	fmt.Fprintf(d.Stdout, text.T("Anmeldung von %s bei Microsoft 365 (Entität „%s“) …\n"), w.UPN, ent.Name)
	res, err := d.Auth.SignIn(ctx, w.UPN, auth.SignInOptions{Timeout: *timeout,
		OpenBrowser: func(u string) error {
			if open == nil {
				return errors.New("no browser")
			}
			if err := open(u); err != nil {
				return err
			}
			fmt.Fprintln(d.Stdout, text.T("Der Browser wurde geöffnet. Bitte dort anmelden."))
			return nil
		},
		OfferURL: func(u string) {
			fmt.Fprintf(d.Stdout, text.T("Bitte diese Adresse im Browser öffnen und anmelden:\n\n  %s\n\n"), u)
		}})
	if err != nil {
		fmt.Fprintln(d.Stderr, auth.Explain(err, auth.Context{Entity: ent, UPN: w.UPN}).String())
		return silent{err}
	}
	fmt.Fprintf(d.Stdout, text.T("Angemeldet als %s am %s. Der Zugriff läuft ab jetzt ohne weitere Anmeldung.\n"),
		res.Account, res.SignedInAt.Local().Format(text.T("02.01.2006 um 15:04 Uhr")))
	return nil
}

func authStatus(ctx context.Context, d Deps) error {
	ents, err := d.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(d.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, text.T("Entität\tVerzeichnis-ID\tAnwendungs-ID\tGeheimer Schlüssel\tläuft ab am"))
	for _, e := range ents {
		has, err := d.Auth.HasClientSecret(e.Name)
		state := text.T("nicht hinterlegt")
		switch {
		case err != nil:
			state = text.T("nicht lesbar")
		case has:
			state = text.T("hinterlegt")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Tenant, e.ClientID, state, e.SecretExpires.German())
	}
	tw.Flush()
	fmt.Fprintln(d.Stdout)
	workers, err := d.Repo.Workers(ctx)
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(d.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, text.T("Sachbearbeiter\tEntität\tAngemeldet\tLetzte Anmeldung\tLetzte Erneuerung\tModule"))
	for _, w := range workers {
		signed := text.T("nein")
		if ok, err := d.Auth.HasSignIn(w.UPN); err != nil {
			signed = text.T("nicht lesbar")
		} else if ok {
			signed = text.T("ja")
		}
		var mods []string
		for _, m := range w.Modules {
			mods = append(mods, m.Label())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.UPN, w.Entity, signed, germanTime(w.LastSignIn), germanTime(w.LastRefresh), strings.Join(mods, ", "))
	}
	return tw.Flush()
}

func germanTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.Local().Format("02.01.2006 15:04")
}

func authLogout(args []string, d Deps) error {
	fs := newFlags("auth logout", d)
	upn := fs.String("worker", "", text.T("UPN des Sachbearbeiters"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	if *upn == "" {
		return usageError(text.T("--worker fehlt"))
	}
	if err := d.Auth.SignOut(*upn); err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, text.T("%s ist abgemeldet; die Anmeldedaten wurden aus dem Schlüsselspeicher entfernt.\n"), *upn)
	return nil
}
