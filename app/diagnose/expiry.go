package diagnose

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Warning is an expiry warning for the tray, the windows' banner and a
// desktop notification. Key is stable per threshold, so each threshold is
// notified once.
type Warning struct {
	Key    string
	Status Status // gelb or rot
	Title  string
	Text   string
}

// SecretThresholds are the days before a client secret expires at which
// kanzleisync warns.
var SecretThresholds = []int{60, 30, 14, 7, 1}

// RefreshWarnDays: Entra drops a refresh token unused for 90 days; warn at 80.
const (
	RefreshWarnDays = 80
	RefreshMaxDays  = 90
)

// Warnings lists what expires soon or has expired.
func Warnings(now time.Time, ents []config.Entity, workers []config.Worker) []Warning {
	var out []Warning
	for _, e := range ents {
		if e.SecretExpires.IsZero() {
			continue
		}
		left := e.SecretExpires.Sub(now)
		if left <= 0 {
			out = append(out, Warning{Key: "secret/" + e.Name + "/expired", Status: Red,
				Title: text.T("Clientschlüssel abgelaufen"),
				Text: text.F("Der geheime Clientschlüssel der Entität „%s“ ist am %s abgelaufen. Sobald Microsoft ihn ablehnt, stehen Synchronisation und Mail über die App. Im Azure-Portal einen neuen Schlüssel anlegen und unter „Einstellungen“ eintragen.",
					e.Name, e.SecretExpires.German())})
			continue
		}
		days := DaysUntil(now, e.SecretExpires)
		for i := len(SecretThresholds) - 1; i >= 0; i-- {
			if th := SecretThresholds[i]; days < th {
				out = append(out, Warning{Key: fmt.Sprintf("secret/%s/%d", e.Name, th), Status: Yellow,
					Title: text.T("Clientschlüssel läuft bald ab"),
					Text: text.F("Der geheime Clientschlüssel der Entität „%s“ läuft am %s ab (%s). Rechtzeitig im Azure-Portal einen neuen Schlüssel anlegen und unter „Einstellungen“ eintragen.",
						e.Name, e.SecretExpires.German(), inDays(days))})
				break
			}
		}
	}
	for _, w := range workers {
		last := w.LastSignIn
		if w.LastRefresh.After(last) {
			last = w.LastRefresh
		}
		if last.IsZero() {
			continue // never signed in: the account list and the test show that
		}
		unused := int(now.Sub(last).Hours() / 24)
		switch {
		case unused >= RefreshMaxDays:
			out = append(out, Warning{Key: fmt.Sprintf("refresh/%s/%s/expired", w.UPN, last.UTC().Format("20060102")), Status: Red,
				Title: "Neu anmelden",
				Text:  text.F("Die Anmeldung von %s wurde %d Tage nicht benutzt und ist bei Microsoft verfallen. Bitte im Tray-Menü „Anmelden“ wählen.", w.DisplayName, unused)})
		case unused >= RefreshWarnDays:
			out = append(out, Warning{Key: fmt.Sprintf("refresh/%s/%s/%d", w.UPN, last.UTC().Format("20060102"), RefreshWarnDays), Status: Yellow,
				Title: text.T("Anmeldung verfällt bald"),
				Text: text.F("Die Anmeldung von %s wurde seit %d Tagen nicht benutzt; Microsoft löscht sie nach %d Tagen. kanzleisync einmal synchronisieren lassen oder neu anmelden.",
					w.DisplayName, unused, RefreshMaxDays)})
		}
	}
	return out
}

// DaysUntil is the number of calendar days from today (this machine's
// date) to the date the Azure portal shows — not hours / 24, which a minute
// after midnight said one day less.
func DaysUntil(now time.Time, date config.Date) int {
	y, m, d := now.In(time.Local).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	ey, em, ed := date.Date()
	return int(time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC).Sub(today).Hours() / 24)
}

func inDays(d int) string {
	switch d {
	case 0:
		return text.T("heute")
	case 1:
		return text.T("morgen")
	}
	return text.F("in %d Tagen", d)
}

// CertificateWarnings are the warnings of an entity's certificate
// credential, from its end date, at the thresholds of a secret's.
func CertificateWarnings(now time.Time, entity string, end time.Time) []Warning {
	if end.IsZero() {
		return nil
	}
	date := end.Local().Format("02.01.2006")
	if !now.Before(end) {
		return []Warning{{Key: "certificate/" + entity + "/expired", Status: Red, Title: text.T("Zertifikat abgelaufen"),
			Text: text.F("Das Zertifikat der Entität „%s“ ist am %s abgelaufen: Microsoft nimmt es nicht mehr an. Ein neues anlegen (kanzleisync config entity certificate create) und im Azure-Portal hochladen.", entity, date)}}
	}
	days := DaysUntil(now, config.Date{Time: end})
	for i := len(SecretThresholds) - 1; i >= 0; i-- {
		if th := SecretThresholds[i]; days < th {
			return []Warning{{Key: fmt.Sprintf("certificate/%s/%d", entity, th), Status: Yellow, Title: text.T("Zertifikat läuft bald ab"),
				Text: text.F("Das Zertifikat der Entität „%s“ läuft am %s ab (%s). Rechtzeitig ein neues anlegen und im Azure-Portal hochladen.", entity, date, inDays(days))}}
		}
	}
	return nil
}

// NotifyOnce calls notify for each warning whose threshold was not
// notified before on this installation.
func NotifyOnce(ctx context.Context, st *store.Store, now time.Time, ws []Warning, notify func(Warning)) error {
	for _, w := range ws {
		first, err := st.FirstTime(ctx, "warning/"+w.Key, now)
		if err != nil {
			return err
		}
		if first {
			notify(w)
		}
	}
	return nil
}

// SignInWarning turns an error of a worker's token source into the warning
// "Bitte erneut anmelden" when the stored sign-in can no longer be used
// (expired, revoked, password changed, never signed in). The key changes
// with the worker's next sign-in, so a later loss is notified again.
func SignInWarning(err error, w config.Worker, ent config.Entity) (Warning, bool) {
	var sir *auth.SignInRequiredError
	if !errors.As(err, &sir) {
		return Warning{}, false
	}
	a := auth.Explain(err, auth.Context{Entity: ent, UPN: w.UPN})
	return Warning{Key: fmt.Sprintf("signin/%s/%d", w.UPN, w.LastSignIn.Unix()), Status: Red,
		Title: text.T("Bitte erneut anmelden"), Text: w.DisplayName + ": " + a.String()}, true
}
