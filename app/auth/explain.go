package auth

import (
	"errors"
	"fmt"
	"net/url"

	"kanzleisync/app/config"
	"kanzleisync/app/text"
	"kanzleisync/platform/keyring"
)

// Advice tells a person in German what went wrong and what to do.
type Advice struct {
	Problem string // what happened
	Fix     string // what to do
	Code    int    // AADSTS number, 0 if none
}

func (a Advice) String() string {
	if a.Fix == "" {
		return a.Problem
	}
	return a.Problem + " " + a.Fix
}

// Context gives Explain what it needs for concrete fixes.
type Context struct {
	Entity      config.Entity
	RedirectURI string // as sent to Entra
	UPN         string
}

// Explain turns an error of this package (or of Entra) into German advice.
func Explain(err error, c Context) Advice {
	if a, ok := ExplainSignIn(err, c); ok {
		return a
	}
	return Advice{Problem: text.F("Die Anmeldung ist fehlgeschlagen: %s", err.Error()), Fix: text.T("Bitte erneut versuchen; bleibt der Fehler, die IT-Betreuung mit dieser Meldung verständigen.")}
}

// ExplainSignIn explains the errors of signing in and of tokens; ok is
// false for any other error.
func ExplainSignIn(err error, c Context) (Advice, bool) {
	var wrong *WrongAccountError
	var sir *SignInRequiredError
	var ee *EntraError
	switch {
	case err == nil:
		return Advice{}, true
	case errors.As(err, &wrong):
		return Advice{Problem: text.F("Im Browser wurde das Konto %s angemeldet, erwartet wird %s.", wrong.Got, wrong.Want),
			Fix: text.F("Bitte die Anmeldung erneut starten und im Browser „Anderes Konto verwenden“ wählen, dann mit %s anmelden.", wrong.Want)}, true
	case errors.As(err, &sir) && sir.Cause == nil:
		return Advice{Problem: text.F("%s hat sich noch nicht bei Microsoft 365 angemeldet.", sir.UPN),
			Fix: text.F("Bitte im Tray-Menü „Anmelden“ wählen (oder: kanzleisync auth login --worker %s).", sir.UPN)}, true
	case errors.As(err, &ee):
		a := explainCode(ee, c)
		if errors.As(err, &sir) {
			if a.Fix == text.T("Bitte erneut anmelden.") {
				a.Fix = text.T("Bitte erneut anmelden (Tray-Menü „Anmelden“).")
			} else {
				a.Fix += text.T(" Danach bitte erneut anmelden (Tray-Menü „Anmelden“).")
			}
		}
		return a, true
	case errors.Is(err, ErrTimeout):
		return Advice{Problem: text.T("Die Anmeldung im Browser wurde nicht rechtzeitig abgeschlossen."),
			Fix: text.T("Bitte erneut anmelden. Falls sich kein Browser geöffnet hat, die angezeigte Adresse kopieren und im Browser öffnen.")}, true
	case errors.Is(err, ErrCancelled):
		return Advice{Problem: text.T("Die Anmeldung wurde abgebrochen."), Fix: text.T("Bitte erneut anmelden, wenn Sie fortfahren möchten.")}, true
	case errors.Is(err, ErrNoSecret):
		return Advice{Problem: text.F("Auf diesem Rechner ist für die Entität „%s“ weder ein Zertifikat noch ein geheimer Clientschlüssel hinterlegt: Anwendungsberechtigungen (Servermodus) gehen hier nicht. Auf Arbeitsplätzen mit einer App-Registrierung als öffentlicher Client ist das richtig.", c.Entity.Name),
			Fix: text.F("Auf dem Server ein Zertifikat anlegen (kanzleisync config entity certificate create --name %q) und im Azure-Portal hochladen, oder den geheimen Clientschlüssel in den Einstellungen eintragen.", c.Entity.Name)}, true
	case errors.Is(err, keyring.ErrNoSessionBus):
		return Advice{Problem: text.T("Der Schlüsselspeicher ist nicht erreichbar: diese Sitzung hat keinen D-Bus-Sitzungsbus (etwa eine SSH-Sitzung oder ein Dienst ohne angemeldeten Benutzer). Anmeldedaten werden nirgendwo sonst gespeichert."),
			Fix: text.T("Den Befehl in der Desktop-Sitzung des Benutzers ausführen, oder über SSH in „dbus-run-session“ mit einem entsperrten gnome-keyring (docs/einrichtung.md).")}, true
	case errors.Is(err, keyring.ErrNoAnswer):
		return Advice{Problem: text.F("Der Schlüsselspeicher des Betriebssystems ist nicht erreichbar: er hat nicht innerhalb von %d Sekunden geantwortet. Anmeldedaten werden nirgendwo sonst gespeichert.", int(keyring.Timeout.Seconds())),
			Fix: text.T("Wartet ein Fenster zum Entsperren des Schlüsselbunds auf das Passwort? Sonst abmelden und wieder anmelden (das startet den Schlüsselbund neu) und erneut versuchen.")}, true
	case errors.Is(err, keyring.ErrUnavailable):
		return Advice{Problem: text.T("Der Schlüsselspeicher des Betriebssystems ist nicht erreichbar; Anmeldedaten werden nirgendwo sonst gespeichert."),
			Fix: text.T("Unter Windows die Anmeldeinformationsverwaltung prüfen, unter Linux den Schlüsselbund (gnome-keyring) entsperren, dann erneut versuchen.")}, true
	case errors.Is(err, keyring.ErrDamaged):
		return Advice{Problem: text.T("Die gespeicherten Anmeldedaten sind unvollständig oder beschädigt und werden nicht verwendet."),
			Fix: text.T("Bitte erneut anmelden; die Anmeldedaten werden dabei neu gespeichert.")}, true
	}
	return Advice{}, false
}

func explainCode(e *EntraError, c Context) Advice {
	ent := c.Entity
	a := Advice{Code: e.Code}
	switch e.Code {
	case 7000215:
		a.Problem = text.T("Der geheime Clientschlüssel ist falsch.")
		a.Fix = text.F("Im Azure-Portal unter App-Registrierungen › %s › Zertifikate & Geheimnisse den Wert (nicht die Geheimnis-ID) kopieren und hier eintragen.", appName(ent))
	case 7000222:
		a.Problem = text.T("Der geheime Clientschlüssel ist abgelaufen.")
		a.Fix = text.T("Im Azure-Portal unter Zertifikate & Geheimnisse einen neuen erstellen und hier eintragen (mit dem neuen Ablaufdatum).")
	case 700027:
		a.Problem = text.T("Microsoft erkennt das Zertifikat von kanzleisync nicht: es ist bei der App-Registrierung nicht hochgeladen, oder die Unterschrift passt nicht dazu.")
		a.Fix = text.F("Im Azure-Portal unter App-Registrierungen › %s › Zertifikate & Geheimnisse › Zertifikate die .cer-Datei von „kanzleisync config entity certificate create“ hochladen.", appName(ent))
	case 7000274:
		a.Problem = text.T("Das Zertifikat von kanzleisync ist abgelaufen.")
		a.Fix = text.T("Ein neues anlegen (kanzleisync config entity certificate create), im Azure-Portal hochladen und das alte dort entfernen.")
	case 700024:
		a.Problem = text.T("Microsoft lehnt die Anmeldung der App ab, weil die Uhr dieses Rechners nicht stimmt (die Zeit der Anmeldung liegt außerhalb ihrer Gültigkeit).")
		a.Fix = text.T("Die Uhrzeit des Rechners mit einem Zeitserver abgleichen lassen (Windows: Einstellungen → Zeit und Sprache → Jetzt synchronisieren) und erneut versuchen.")
	case 50013:
		a.Problem = text.T("Microsoft hat die Anmeldung der App mit dem Zertifikat abgelehnt: die Zusicherung war schon einmal benutzt oder ungültig (Fehlercode AADSTS50013). kanzleisync erzeugt für jede Anmeldung eine neue; eine wiederverwendete deutet auf eine abgefangene oder doppelt gesendete Anmeldung hin.")
		a.Fix = text.T("Erneut versuchen. Tritt es wieder auf: die Uhrzeit des Rechners prüfen und, wenn jemand Fremdes den Netzwerkverkehr mitlesen könnte, ein neues Zertifikat anlegen (kanzleisync config entity certificate create), hochladen und das alte im Azure-Portal entfernen.")
	case 700021, 700023:
		a.Problem = text.F("Die Anmeldung der App passt nicht zur Entität (Fehlercode AADSTS%d): Anwendungs-ID oder Verzeichnis-ID stimmen nicht mit der App-Registrierung überein.", e.Code)
		a.Fix = text.T("Bitte Anwendungs-ID und Verzeichnis-ID mit der Übersicht der App-Registrierung im Azure-Portal vergleichen.")
	case 7000218:
		a.Problem = text.T("Die App-Registrierung ist eine Web-Anwendung (vertraulicher Client) und verlangt ein Zertifikat oder einen geheimen Clientschlüssel; dieser Rechner hat keins von beiden.")
		a.Fix = text.F("Für Arbeitsplätze empfohlen: im Azure-Portal unter App-Registrierungen › %s › Authentifizierung die Plattform „Mobile und Desktopanwendungen“ mit http://localhost hinzufügen und „Öffentliche Clientflows zulassen“ einschalten – dann braucht kein Arbeitsplatz ein Geheimnis. Sonst das Zertifikat oder den geheimen Clientschlüssel hier eintragen.", appName(ent))
	case 700025:
		a.Problem = text.T("Die App-Registrierung ist ein öffentlicher Client (Mobile und Desktopanwendungen) und nimmt weder Zertifikat noch geheimen Clientschlüssel an; dieser Rechner hat eins hinterlegt.")
		a.Fix = text.F("Den hinterlegten Schlüssel auf diesem Rechner entfernen: kanzleisync config entity set --name %q --remove-credentials. Für den Servermodus braucht der Server eine eigene vertrauliche App-Registrierung (Web, mit Zertifikat).", ent.Name)
	case 700016:
		a.Problem = text.F("Die Anwendungs-ID %s ist im Verzeichnis %s nicht registriert.", ent.ClientID, ent.Tenant)
		a.Fix = text.T("Bitte Anwendungs-ID und Verzeichnis-ID mit der Übersicht der App-Registrierung im Azure-Portal vergleichen.")
	case 90002:
		a.Problem = text.F("Das Verzeichnis „%s“ gibt es bei Microsoft nicht.", ent.Tenant)
		a.Fix = text.T("Bitte die Verzeichnis-ID aus der Übersicht der App-Registrierung im Azure-Portal übernehmen.")
	case 50194:
		a.Problem = text.T("Die App ist für einen einzelnen Mandanten registriert, angefragt wurde aber „common“.")
		a.Fix = text.T("Bitte als Verzeichnis-ID die GUID oder Domäne des eigenen Mandanten eintragen.")
	case 50011:
		a.Problem = text.T("Die Umleitungs-URI ist in der App-Registrierung nicht eingetragen.")
		a.Fix = text.F("Im Azure-Portal unter App-Registrierungen › %s › Authentifizierung bei der Plattform „Web“ genau diese Umleitungs-URI hinzufügen: %s", appName(ent), canonicalRedirect(c.RedirectURI))
	case 500112:
		a.Problem = text.T("Die Umleitungs-URI beim Einlösen des Codes passt nicht zur Anmeldung.")
		a.Fix = text.T("Bitte die Anmeldung neu starten.")
	case 65001:
		a.Problem = text.T("Für die App fehlt die Zustimmung (Consent) zu den benötigten Berechtigungen.")
		a.Fix = text.F("Eine Administratorin oder ein Administrator des Mandanten öffnet diese Adresse und stimmt zu: %s", ent.AdminConsentURL(canonicalRedirect(c.RedirectURI)))
	case 65004:
		a.Problem = text.T("Der Zustimmung zu den Berechtigungen wurde im Browser nicht zugestimmt.")
		a.Fix = text.F("Bitte erneut anmelden und „Akzeptieren“ wählen, oder die Zustimmung durch die Administration erteilen lassen: %s", ent.AdminConsentURL(canonicalRedirect(c.RedirectURI)))
	case 90094:
		a.Problem = text.T("Die Berechtigungen der App erfordern die Zustimmung einer Administratorin oder eines Administrators.")
		a.Fix = text.F("Bitte die Administration bitten, diese Adresse zu öffnen und zuzustimmen: %s", ent.AdminConsentURL(canonicalRedirect(c.RedirectURI)))
	case 50126:
		a.Problem = text.T("Benutzername oder Kennwort sind falsch.")
		a.Fix = text.T("Bitte die Anmeldung wiederholen.")
	case 50034:
		a.Problem = text.T("Das Benutzerkonto gibt es in diesem Verzeichnis nicht.")
		a.Fix = text.T("Bitte den Benutzernamen (UPN) des Sachbearbeiters prüfen.")
	case 700082:
		a.Problem = text.T("Die Anmeldung ist abgelaufen, weil sie 90 Tage nicht benutzt wurde.")
		a.Fix = text.T("Bitte erneut anmelden.")
	case 70008:
		a.Problem = text.T("Der Anmeldecode oder die gespeicherte Anmeldung ist abgelaufen.")
		a.Fix = text.T("Bitte erneut anmelden.")
	case 50173, 70043, 700084:
		a.Problem = text.T("Die gespeicherte Anmeldung wurde von Microsoft widerrufen (z. B. nach einer Kennwortänderung oder durch die Administration).")
		a.Fix = text.T("Bitte erneut anmelden.")
	case 54005:
		a.Problem = text.T("Der Anmeldecode wurde bereits eingelöst.")
		a.Fix = text.T("Bitte die Anmeldung neu starten.")
	case 501481, 50148:
		a.Problem = text.T("Die Sicherheitsprüfung der Anmeldung (PKCE) ist fehlgeschlagen.")
		a.Fix = text.T("Bitte die Anmeldung neu starten. Tritt das wiederholt auf, greift möglicherweise ein anderes Programm in die Anmeldung ein.")
	case 50058:
		a.Problem = text.T("Im Browser ist niemand angemeldet.")
		a.Fix = text.T("Bitte die Anmeldung starten und im Browser anmelden.")
	case 70011, 28000, 1002012:
		a.Problem = text.T("Die angeforderten Berechtigungen (Scopes) sind ungültig.")
		a.Fix = text.F("Bitte die IT-Betreuung verständigen (Fehlercode AADSTS%s).", fmt.Sprint(e.Code))
	case 9002313:
		a.Problem = text.T("Die gespeicherte Anmeldung ist ungültig.")
		a.Fix = text.T("Bitte erneut anmelden.")
	case 70003, 700054, 900144, 5000811:
		a.Problem = text.F("Entra ID lehnt die Anfrage von kanzleisync ab (Fehlercode AADSTS%s).", fmt.Sprint(e.Code))
		a.Fix = text.T("Bitte kanzleisync aktualisieren; bleibt der Fehler, die IT-Betreuung mit diesem Fehlercode verständigen.")
	default:
		switch e.OAuth {
		case "access_denied":
			a.Problem = text.T("Die Anmeldung wurde im Browser abgebrochen oder abgelehnt.")
			a.Fix = text.T("Bitte erneut anmelden.")
		case "temporarily_unavailable", "server_error":
			a.Problem = text.T("Der Anmeldedienst von Microsoft ist vorübergehend nicht erreichbar.")
			a.Fix = text.T("Bitte in einigen Minuten erneut versuchen.")
		default:
			a.Problem = text.F("Microsoft meldet den Fehler %s (AADSTS%d).", e.OAuth, e.Code)
			a.Fix = text.T("Bitte die IT-Betreuung mit diesem Fehlercode verständigen.")
		}
	}
	return a
}

func appName(e config.Entity) string {
	if e.Name != "" {
		return text.F("„%s“", e.Name)
	}
	return "kanzleisync"
}

// canonicalRedirect is the redirect URI to register: Entra ignores the port
// of http://localhost, so the fallback port of a sign-in is given as the
// default port, which is the one the vendor documents.
func canonicalRedirect(uri string) string {
	def := fmt.Sprintf("http://localhost:%d%s", config.DefaultRedirectPort, config.DefaultRedirectPath)
	u, err := url.Parse(uri)
	if uri == "" || err != nil {
		return def
	}
	if u.Hostname() == "localhost" {
		u.Host = fmt.Sprintf("localhost:%d", config.DefaultRedirectPort)
	}
	return u.String()
}
