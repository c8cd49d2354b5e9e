package core

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/handoff"
	"kanzleisync/app/mail"
	"kanzleisync/app/source"
	"kanzleisync/app/text"
)

// Explain turns an error into German for a person: what happened and what
// to do. It is the one classification of failures that the command line,
// the tray and /health show; the technical cause stays in the log.
func Explain(err error, ent config.Entity, upn string) string {
	return Advise(err, ent, upn).String()
}

// retry is said only where trying again can help.
var retryLater = text.Mark("Die nächste Synchronisation versucht es von selbst erneut; bleibt der Fehler, bitte die IT-Betreuung verständigen.")

// Advise classifies an error: sign-in, cache, configuration, Microsoft 365,
// network, mail; anything else is named as unexpected, pointing at the log.
func Advise(err error, ent config.Entity, upn string) auth.Advice {
	if err == nil {
		return auth.Advice{}
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		// several workers failed: one sentence each, the same ones once
		var parts []string
		seen := map[string]bool{}
		for _, e := range joined.Unwrap() {
			if t := Explain(e, ent, upn); !seen[t] {
				seen[t] = true
				parts = append(parts, t)
			}
		}
		return auth.Advice{Problem: strings.Join(parts, "\n")}
	}
	var held *export.HeldError
	var se *mail.SendError
	var ce *source.CacheError
	var noCache *export.NoCachePathError
	var unknown *export.UnknownWorkerError
	var ge *graph.Error
	var ne net.Error
	var locked *config.ErrLocked
	var drop *handoff.DropError
	var limit *mail.LimitError
	switch {
	case errors.As(err, &held):
		return auth.Advice{Problem: held.Error()}
	case errors.Is(err, export.ErrInactive):
		return auth.Advice{Problem: export.ErrInactive.Error()}
	case errors.Is(err, export.ErrPartial):
		return auth.Advice{Problem: text.T("Einige Einträge konnten nicht übertragen werden (Einzelheiten im Protokoll)."), Fix: text.T(retryLater)}
	case errors.As(err, &se):
		return auth.Advice{Problem: se.Error(), Fix: se.Advice()}
	case errors.As(err, &ce):
		return explainCache(ce)
	case errors.As(err, &drop):
		return auth.Advice{Problem: drop.Error()}
	case errors.As(err, &noCache):
		return auth.Advice{Problem: text.F("Für die Entität „%s“ ist kein Cache der Kanzleisoftware eingetragen: es gibt nichts zu exportieren.", noCache.Entity),
			Fix: text.F("Bitte an jedem Arbeitsplatz den Pfad zur Cache-Datei eintragen: Einstellungen → Entität → Cache (oder: kanzleisync config entity set --name %q … --cache PFAD).", noCache.Entity)}
	case errors.As(err, &unknown):
		return auth.Advice{Problem: text.F("Im Cache der Kanzleisoftware (%s) gibt es keinen Sachbearbeiter mit dem Microsoft-365-Konto %s.", unknown.Cache, unknown.UPN),
			Fix: text.T("Bitte in der Kanzleisoftware beim Sachbearbeiter genau dieses Konto (UPN) eintragen oder in kanzleisync den Sachbearbeiter mit dem dort eingetragenen Konto anlegen.")}
	case errors.Is(err, config.ErrAdminRequired):
		return auth.Advice{Problem: text.F("Die Änderung wurde nicht ausgeführt: %s", config.ErrAdminRequired.Error())}
	case errors.Is(err, config.ErrNoAdminPassword):
		return auth.Advice{Problem: text.F("Die Änderung wurde nicht ausgeführt: %s", config.ErrNoAdminPassword.Error())}
	case errors.Is(err, config.ErrWrongAdminPassword):
		return auth.Advice{Problem: text.F("Die Änderung wurde nicht ausgeführt: %s", config.ErrWrongAdminPassword.Error()),
			Fix: text.T("Bitte das Administratorpasswort der Kanzlei angeben (Kommandozeile: KANZLEISYNC_ADMIN_PASSWORD; Anwendung: „Als Administrator entsperren“).")}
	case errors.As(err, &locked):
		return auth.Advice{Problem: text.F("Die Änderung wurde nicht ausgeführt: %s", locked.Error())}
	}
	if a, ok := auth.ExplainSignIn(err, auth.Context{Entity: ent, UPN: upn}); ok {
		return a
	}
	switch {
	case errors.Is(err, mail.ErrAuthFailed):
		return auth.Advice{Problem: text.F("Der Mailserver hat die Anmeldung von %s über POP3 abgelehnt.", upn),
			Fix: text.T("Bitte „Anbindung testen“ ausführen: dort steht, ob POP3 im Postfach freigeschaltet ist oder die Anmeldung erneuert werden muss.")}
	case errors.As(err, &limit):
		return auth.Advice{Problem: limit.Error(), Fix: text.T("Abgeholte Nachrichten sind gespeichert, die übrigen bleiben auf dem Server. Bitte den Betreiber des Mailservers informieren; kanzleisync versucht es beim nächsten Abruf erneut.")}
	case errors.Is(err, mail.ErrTooLarge):
		return auth.Advice{Problem: text.T("Eine Nachricht auf dem Mailserver ist größer, als kanzleisync abholt; sie bleibt auf dem Server."),
			Fix: text.T("Bitte die Nachricht in Outlook im Web öffnen und dort bearbeiten.")}
	case errors.Is(err, mail.ErrProtocol), errors.Is(err, mail.ErrServer):
		return auth.Advice{Problem: text.T("Der Mailserver hat unerwartet geantwortet; abgeholte Nachrichten sind gespeichert, die übrigen bleiben auf dem Server."), Fix: text.T(retryLater)}
	case errors.As(err, &ge):
		return explainGraph(ge, upn)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return auth.Advice{Problem: text.T("Microsoft 365 ist von diesem Rechner aus nicht erreichbar (keine Antwort oder keine Verbindung)."),
			Fix: text.F("Bitte die Internetverbindung und einen Proxy prüfen. %s", text.T(retryLater))}
	case errors.Is(err, context.Canceled):
		return auth.Advice{Problem: text.T("Der Vorgang wurde abgebrochen (kanzleisync wurde beendet).")}
	}
	if said, ok := sentence(err); ok {
		return auth.Advice{Problem: said}
	}
	return auth.Advice{Problem: text.T("Ein unerwarteter Fehler ist aufgetreten; die Einzelheiten stehen in der Protokolldatei kanzleisync.log."),
		Fix: text.T("Bitte die IT-Betreuung mit Uhrzeit und dieser Meldung verständigen.")}
}

func explainCache(ce *source.CacheError) auth.Advice {
	path := ce.Path
	switch ce.Problem {
	case source.Missing:
		return auth.Advice{Problem: text.F("Der Cache der Kanzleisoftware fehlt: die Datei %s gibt es nicht.", path),
			Fix: text.T("Bitte den Pfad in den Einstellungen der Entität prüfen (Laufwerk verbunden? Kanzleisoftware installiert und einmal gestartet?).")}
	case source.Locked:
		return auth.Advice{Problem: text.F("Der Cache der Kanzleisoftware (%s) ist gesperrt: ein anderes Programm hält ihn exklusiv geöffnet.", path),
			Fix: text.F("Das geschieht z. B. während einer Datensicherung oder einer Reorganisation der Kanzleisoftware. %s", text.T(retryLater))}
	case source.Newer:
		return auth.Advice{Problem: text.F("Der Cache der Kanzleisoftware (%s) hat eine neuere Version (%d), als diese kanzleisync-Version lesen kann (%d).", path, ce.Version, source.SchemaVersion),
			Fix: text.T("Bitte kanzleisync auf die Version aktualisieren, die zur Kanzleisoftware passt.")}
	case source.MissingTable:
		return auth.Advice{Problem: text.F("Im Cache der Kanzleisoftware (%s) fehlt die Tabelle „%s“.", path, ce.Table),
			Fix: text.T("Die Datei ist unvollständig oder kein Cache dieser Kanzleisoftware: bitte den Pfad prüfen oder den Cache in der Kanzleisoftware neu aufbauen lassen.")}
	case source.MissingColumn:
		return auth.Advice{Problem: text.F("Im Cache der Kanzleisoftware (%s) fehlt in der Tabelle „%s“ die Spalte „%s“.", path, ce.Table, ce.Column),
			Fix: text.T("Kanzleisoftware und kanzleisync passen nicht zusammen: bitte beide auf den aktuellen Stand bringen.")}
	case source.NotADatabase:
		return auth.Advice{Problem: text.F("Die Datei %s ist kein Cache der Kanzleisoftware (keine SQLite-Datenbank).", path),
			Fix: text.T("Bitte in den Einstellungen der Entität den Pfad zur Cache-Datei der Kanzleisoftware eintragen.")}
	}
	return auth.Advice{Problem: text.F("Der Cache der Kanzleisoftware (%s) kann nicht gelesen werden.", path),
		Fix: text.T("Bitte prüfen, ob dieser Windows-Benutzer die Datei lesen darf; die Einzelheiten stehen in der Protokolldatei kanzleisync.log.")}
}

func explainGraph(ge *graph.Error, upn string) auth.Advice {
	switch {
	case ge.Status == http.StatusTooManyRequests || ge.Status >= 500:
		return auth.Advice{Problem: text.F("Microsoft 365 ist vorübergehend überlastet oder nicht verfügbar (HTTP %d).", ge.Status), Fix: text.T(retryLater)}
	case ge.Status == http.StatusUnauthorized || ge.Status == http.StatusForbidden:
		return auth.Advice{Problem: text.F("Microsoft 365 verweigert den Zugriff auf das Postfach von %s (HTTP %d, %s).", upn, ge.Status, ge.Code),
			Fix: text.T("Bitte „Anbindung testen“ ausführen: dort steht, welche Berechtigung oder Zustimmung fehlt.")}
	case ge.Status == http.StatusNotFound:
		return auth.Advice{Problem: text.F("Microsoft 365 kennt das Postfach %s nicht (HTTP 404).", upn),
			Fix: text.T("Bitte prüfen, ob das Konto ein Exchange-Online-Postfach mit Lizenz hat und der UPN stimmt.")}
	}
	return auth.Advice{Problem: text.F("Microsoft 365 hat die Anfrage abgelehnt (HTTP %d, %s).", ge.Status, ge.Code),
		Fix: text.T("Die Einzelheiten stehen in der Protokolldatei kanzleisync.log; bitte die IT-Betreuung verständigen.")}
}

// sentence finds, in an error's chain, a message written for people: by
// the convention of this code base technical errors begin in lower case
// (STYLE.md), while German messages shown as they are begin with a capital
// letter (which is why staticcheck's ST1005 is off).
func sentence(err error) (string, bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		if r, _ := utf8.DecodeRuneInString(msg); unicode.IsUpper(r) {
			return msg, true
		}
	}
	return "", false
}
