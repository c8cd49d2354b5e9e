package auth

import (
	"errors"
	"fmt"
	"net/url"

	"kanzleisync/app/config"
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
	return Advice{Problem: "Die Anmeldung ist fehlgeschlagen: " + err.Error(), Fix: "Bitte erneut versuchen; bleibt der Fehler, die IT-Betreuung mit dieser Meldung verständigen."}
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
		return Advice{Problem: fmt.Sprintf("Im Browser wurde das Konto %s angemeldet, erwartet wird %s.", wrong.Got, wrong.Want),
			Fix: fmt.Sprintf("Bitte die Anmeldung erneut starten und im Browser „Anderes Konto verwenden“ wählen, dann mit %s anmelden.", wrong.Want)}, true
	case errors.As(err, &sir) && sir.Cause == nil:
		return Advice{Problem: fmt.Sprintf("%s hat sich noch nicht bei Microsoft 365 angemeldet.", sir.UPN),
			Fix: "Bitte im Tray-Menü „Anmelden“ wählen (oder: kanzleisync auth login --worker " + sir.UPN + ")."}, true
	case errors.As(err, &ee):
		a := explainCode(ee, c)
		if errors.As(err, &sir) {
			if a.Fix == "Bitte erneut anmelden." {
				a.Fix = "Bitte erneut anmelden (Tray-Menü „Anmelden“)."
			} else {
				a.Fix += " Danach bitte erneut anmelden (Tray-Menü „Anmelden“)."
			}
		}
		return a, true
	case errors.Is(err, ErrTimeout):
		return Advice{Problem: "Die Anmeldung im Browser wurde nicht rechtzeitig abgeschlossen.",
			Fix: "Bitte erneut anmelden. Falls sich kein Browser geöffnet hat, die angezeigte Adresse kopieren und im Browser öffnen."}, true
	case errors.Is(err, ErrCancelled):
		return Advice{Problem: "Die Anmeldung wurde abgebrochen.", Fix: "Bitte erneut anmelden, wenn Sie fortfahren möchten."}, true
	case errors.Is(err, ErrNoSecret):
		return Advice{Problem: fmt.Sprintf("Für die Entität „%s“ ist kein geheimer Clientschlüssel hinterlegt.", c.Entity.Name),
			Fix: "Bitte in den Einstellungen (oder: kanzleisync config entity secret) den Wert des geheimen Clientschlüssels eintragen."}, true
	case errors.Is(err, keyring.ErrUnavailable):
		return Advice{Problem: "Der Schlüsselspeicher des Betriebssystems ist nicht erreichbar; Anmeldedaten werden nirgendwo sonst gespeichert.",
			Fix: "Unter Windows die Anmeldeinformationsverwaltung prüfen, unter Linux den Schlüsselbund (gnome-keyring) entsperren, dann erneut versuchen."}, true
	case errors.Is(err, keyring.ErrDamaged):
		return Advice{Problem: "Die gespeicherten Anmeldedaten sind unvollständig oder beschädigt und werden nicht verwendet.",
			Fix: "Bitte erneut anmelden; die Anmeldedaten werden dabei neu gespeichert."}, true
	}
	return Advice{}, false
}

func explainCode(e *EntraError, c Context) Advice {
	ent := c.Entity
	a := Advice{Code: e.Code}
	switch e.Code {
	case 7000215:
		a.Problem = "Der geheime Clientschlüssel ist falsch."
		a.Fix = "Im Azure-Portal unter App-Registrierungen › " + appName(ent) + " › Zertifikate & Geheimnisse den Wert (nicht die Geheimnis-ID) kopieren und hier eintragen."
	case 7000222:
		a.Problem = "Der geheime Clientschlüssel ist abgelaufen."
		a.Fix = "Im Azure-Portal unter Zertifikate & Geheimnisse einen neuen erstellen und hier eintragen (mit dem neuen Ablaufdatum)."
	case 7000218:
		a.Problem = "Es wurde kein geheimer Clientschlüssel gesendet."
		a.Fix = "Bitte den Wert des geheimen Clientschlüssels in den Einstellungen der Entität eintragen."
	case 700016:
		a.Problem = fmt.Sprintf("Die Anwendungs-ID %s ist im Verzeichnis %s nicht registriert.", ent.ClientID, ent.Tenant)
		a.Fix = "Bitte Anwendungs-ID und Verzeichnis-ID mit der Übersicht der App-Registrierung im Azure-Portal vergleichen."
	case 90002:
		a.Problem = fmt.Sprintf("Das Verzeichnis „%s“ gibt es bei Microsoft nicht.", ent.Tenant)
		a.Fix = "Bitte die Verzeichnis-ID aus der Übersicht der App-Registrierung im Azure-Portal übernehmen."
	case 50194:
		a.Problem = "Die App ist für einen einzelnen Mandanten registriert, angefragt wurde aber „common“."
		a.Fix = "Bitte als Verzeichnis-ID die GUID oder Domäne des eigenen Mandanten eintragen."
	case 50011:
		a.Problem = "Die Umleitungs-URI ist in der App-Registrierung nicht eingetragen."
		a.Fix = fmt.Sprintf("Im Azure-Portal unter App-Registrierungen › %s › Authentifizierung bei der Plattform „Web“ genau diese Umleitungs-URI hinzufügen: %s", appName(ent), canonicalRedirect(c.RedirectURI))
	case 500112:
		a.Problem = "Die Umleitungs-URI beim Einlösen des Codes passt nicht zur Anmeldung."
		a.Fix = "Bitte die Anmeldung neu starten."
	case 65001:
		a.Problem = "Für die App fehlt die Zustimmung (Consent) zu den benötigten Berechtigungen."
		a.Fix = "Eine Administratorin oder ein Administrator des Mandanten öffnet diese Adresse und stimmt zu: " + ent.AdminConsentURL(canonicalRedirect(c.RedirectURI))
	case 65004:
		a.Problem = "Der Zustimmung zu den Berechtigungen wurde im Browser nicht zugestimmt."
		a.Fix = "Bitte erneut anmelden und „Akzeptieren“ wählen, oder die Zustimmung durch die Administration erteilen lassen: " + ent.AdminConsentURL(canonicalRedirect(c.RedirectURI))
	case 90094:
		a.Problem = "Die Berechtigungen der App erfordern die Zustimmung einer Administratorin oder eines Administrators."
		a.Fix = "Bitte die Administration bitten, diese Adresse zu öffnen und zuzustimmen: " + ent.AdminConsentURL(canonicalRedirect(c.RedirectURI))
	case 50126:
		a.Problem = "Benutzername oder Kennwort sind falsch."
		a.Fix = "Bitte die Anmeldung wiederholen."
	case 50034:
		a.Problem = "Das Benutzerkonto gibt es in diesem Verzeichnis nicht."
		a.Fix = "Bitte den Benutzernamen (UPN) des Sachbearbeiters prüfen."
	case 700082:
		a.Problem = "Die Anmeldung ist abgelaufen, weil sie 90 Tage nicht benutzt wurde."
		a.Fix = "Bitte erneut anmelden."
	case 70008:
		a.Problem = "Der Anmeldecode oder die gespeicherte Anmeldung ist abgelaufen."
		a.Fix = "Bitte erneut anmelden."
	case 50173, 70043, 700084:
		a.Problem = "Die gespeicherte Anmeldung wurde von Microsoft widerrufen (z. B. nach einer Kennwortänderung oder durch die Administration)."
		a.Fix = "Bitte erneut anmelden."
	case 54005:
		a.Problem = "Der Anmeldecode wurde bereits eingelöst."
		a.Fix = "Bitte die Anmeldung neu starten."
	case 501481, 50148:
		a.Problem = "Die Sicherheitsprüfung der Anmeldung (PKCE) ist fehlgeschlagen."
		a.Fix = "Bitte die Anmeldung neu starten. Tritt das wiederholt auf, greift möglicherweise ein anderes Programm in die Anmeldung ein."
	case 50058:
		a.Problem = "Im Browser ist niemand angemeldet."
		a.Fix = "Bitte die Anmeldung starten und im Browser anmelden."
	case 70011, 28000, 1002012:
		a.Problem = "Die angeforderten Berechtigungen (Scopes) sind ungültig."
		a.Fix = "Bitte die IT-Betreuung verständigen (Fehlercode AADSTS" + fmt.Sprint(e.Code) + ")."
	case 9002313:
		a.Problem = "Die gespeicherte Anmeldung ist ungültig."
		a.Fix = "Bitte erneut anmelden."
	case 70003, 700054, 900144, 5000811:
		a.Problem = "Entra ID lehnt die Anfrage von kanzleisync ab (Fehlercode AADSTS" + fmt.Sprint(e.Code) + ")."
		a.Fix = "Bitte kanzleisync aktualisieren; bleibt der Fehler, die IT-Betreuung mit diesem Fehlercode verständigen."
	default:
		switch e.OAuth {
		case "access_denied":
			a.Problem = "Die Anmeldung wurde im Browser abgebrochen oder abgelehnt."
			a.Fix = "Bitte erneut anmelden."
		case "temporarily_unavailable", "server_error":
			a.Problem = "Der Anmeldedienst von Microsoft ist vorübergehend nicht erreichbar."
			a.Fix = "Bitte in einigen Minuten erneut versuchen."
		default:
			a.Problem = fmt.Sprintf("Microsoft meldet den Fehler %s (AADSTS%d).", e.OAuth, e.Code)
			a.Fix = "Bitte die IT-Betreuung mit diesem Fehlercode verständigen."
		}
	}
	return a
}

func appName(e config.Entity) string {
	if e.Name != "" {
		return "„" + e.Name + "“"
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
