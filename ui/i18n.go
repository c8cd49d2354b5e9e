package ui

// english holds the English texts of the tray and the windows' titles and
// buttons; German is the source language. Messages from the engine (reasons,
// fixes) stay German: they are what the vendor's support reads too.
var english = map[string]string{
	"Anmelden":                         "Sign in",
	"Anbindung testen":                 "Test connection",
	"Testmail senden":                  "Send test mail",
	"Jetzt synchronisieren":            "Synchronise now",
	"Konten verwalten":                 "Manage accounts",
	"Einstellungen":                    "Settings",
	"Protokoll":                        "Journal",
	"Über":                             "About",
	"Beenden":                          "Quit",
	"Synchronisation":                  "Synchronisation",
	"Demo: etwas kaputt machen":        "Demo: break something",
	"Kein Sachbearbeiter eingerichtet": "No case worker set up",
	"Konto hinzufügen":                 "Add account",
	"Bearbeiten":                       "Edit",
	"Entfernen":                        "Remove",
	"Konto bearbeiten":                 "Edit account",
	"Speichern":                        "Save",
	"Senden":                           "Send",
	"Als CSV exportieren":              "Export as CSV",
	"Administratorzustimmung erteilen": "Grant admin consent",
	"Verbindung testen":                "Test connection",
	"Sprache":                          "Language",
	"Mit dem System starten":           "Start with the system",
	"Löschungen ausführen":             "Carry out deletions",
	"Passwort kopieren":                "Copy password",
	"Nicht gesendet":                   "Not sent",
	"Im Kommunikator abrufen":          "Fetch in the Kommunikator",
	"Erneut senden":                    "Send again",
	"Verwerfen":                        "Discard",
	"Löschen":                          "Delete",
	"Abbrechen":                        "Cancel",
	"Freigegeben – wird beim nächsten Abgleich ausgeführt": "Released – carried out by the next cycle",
}

// t translates a German text into the chosen language.
func (a *App) t(de string) string {
	if a.lang == "en" {
		if en, ok := english[de]; ok {
			return en
		}
	}
	return de
}
