package ui

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"

	"kanzleisync/app/demo"
	"kanzleisync/app/text"
)

// germanMarks finds German in an English screen: its letters and quotation
// mark, and everyday words English does not have.
var germanMarks = regexp.MustCompile(`[äöüÄÖÜß„]|\b(der|die|das|und|nicht|ist|ein|eine|bitte|Bitte|wird|kein|keine|mit|von|zu|auf|im|den|dem|sind|oder|noch|wurde|bei|nach|aus|für|Fehler|Konto|Konten|Sachbearbeiter|Abgleich|Nachricht|Nachrichten|Termin|Termine|Fristen|Postfach|Passwort|jetzt|Anmelden|Einstellungen|Protokoll|Speichern|Abbrechen|Entität|Kanzlei|gelöscht|angelegt|Angabe|Unbekannte|Datei|Eingaben|gültige?|Ordner|Benutzer|geändert|verständigen|prüfen|Schnittstelle|aktiv|eingetragen|hinterlegt|angemeldet|Anmeldung|Verbindung|Postausgang|Posteingang|Sprache|Allgemein|Verschlüsselung|Tage|abrufen|senden|testen|Kopie|leer|Module|Zeit|Ergebnis|Aktion)\b`)

// names are German in every language: the demo's people and firm.
var names = strings.NewReplacer("Anna Müller", "", "Kanzlei Müller & Partner", "", "Kanzlei", "", "mueller", "",
	// values: the default To Do list, the demo's password
	"Fristen und Wiedervorlagen", "", "Demo-Passwort-1", "")

// itemLabel is the Protokoll's name of an item after its title.
var itemLabel = regexp.MustCompile(`^(Appointment|Deadline|Early warning|Resubmission|Address) \d+ \((Calendar|Tasks|Contacts)\)$`)

// screenTexts is every text drawn in o.
func screenTexts(o fyne.CanvasObject) []string {
	var out []string
	walk(o, func(o fyne.CanvasObject) {
		if t, ok := o.(*canvas.Text); ok && strings.TrimSpace(t.Text) != "" {
			out = append(out, t.Text)
		}
	})
	return out
}

func menuTexts(m *fyne.Menu) []string {
	var out []string
	for _, it := range m.Items {
		out = append(out, it.Label)
		if it.ChildMenu != nil {
			out = append(out, menuTexts(it.ChildMenu)...)
		}
	}
	return out
}

// After „Sprache: English“ the tray menu and every window — opened in
// German before the switch, built anew at once — show no German text: no
// text of the German catalog, no German word or letter.
func TestEnglishUI(t *testing.T) {
	f := newFixture(t, setup{opts: Options{DemoHelp: demo.Help,
		Demo: []Action{{Label: text.Mark("SMTP AUTH im Mandanten abschalten"), Do: func(context.Context) error { return nil }}}}})
	t.Cleanup(func() { text.SetLanguage(text.German) })
	var s *SettingsScreen
	f.ui(func() {
		f.app.ShowSync()
		f.app.ShowJournal()
		f.app.ShowAbout()
		f.app.ShowAccounts()
		f.app.ShowTestMail("", "")
		f.app.ShowDemoHelp()
		f.app.ShowMenuPreview()
		f.app.ShowDiagnose(false)
		s = f.app.ShowSettings()
		if got := f.app.Menu().Items[2].Label; got != "Anmelden" {
			t.Fatalf("the German menu starts with %q", got)
		}
		s.Language.SetSelected("English")
	})
	if got := f.fa.Preferences().String("language"); got != text.English {
		t.Errorf("the language kept is %q", got)
	}
	// the test of the connection runs in English too
	f.ui(func() { f.app.ShowDiagnose(true) })
	f.eventually("the test in English", func() bool {
		d, _ := f.app.screens["diagnose"].(*DiagnoseScreen)
		return d != nil && d.Reports != nil && d.State.Text != text.T("Anbindung wird getestet …")
	})
	var seen int
	check := func(where, s string) {
		seen++
		// an item's title is the practice software's data, in its language
		if i := strings.LastIndex(s, " – "); i >= 0 && itemLabel.MatchString(s[i+len(" – "):]) {
			s = s[i+len(" – "):]
		}
		clean := names.Replace(s)
		if strings.TrimSpace(clean) == "" {
			return
		}
		if m := germanMarks.FindString(clean); m != "" {
			t.Errorf("%s shows German (%q): %q", where, m, s)
			return
		}
		if _, other, ok := text.EnglishOf(clean); ok && other != clean {
			t.Errorf("%s shows the German catalog text %q", where, s)
		}
	}
	f.ui(func() {
		for _, l := range menuTexts(f.app.Menu()) {
			check("the tray menu", l)
		}
		for _, name := range []string{"settings", "sync", "journal", "about", "accounts", "testmail", "demo", "menu", "diagnose"} {
			w := f.app.Window(name)
			if w == nil {
				t.Errorf("window %s is gone after the switch", name)
				continue
			}
			check("the title of "+name, strings.TrimSuffix(w.Title(), " – kanzleisync"))
			for _, s := range screenTexts(w.Content()) {
				check("window "+name, s)
			}
			if name == "settings" {
				// the other tabs of the settings
				st := f.app.screens["settings"].(*SettingsScreen)
				for _, tab := range st.Tabs.Items {
					check("a settings tab", tab.Text)
					for _, s := range screenTexts(tab.Content) {
						check("settings tab "+tab.Text, s)
					}
				}
			}
		}
	})
	if seen < 150 {
		t.Errorf("only %d texts checked", seen)
	}
	t.Logf("%d texts checked in English", seen)
	// and back: German at once
	f.ui(func() {
		f.app.screens["settings"].(*SettingsScreen).Language.SetSelected("Deutsch")
		if got := f.app.Menu().Items[2].Label; got != "Anmelden" {
			t.Errorf("after switching back the menu says %q", got)
		}
	})
}

func TestForPeople(t *testing.T) {
	for in, want := range map[string]string{
		"Bitte im Tray-Menü „Anmelden“ wählen (oder: kanzleisync auth login --worker anna@kanzlei.de).":   "Bitte im Tray-Menü „Anmelden“ wählen.",
		"Please choose “Sign in” in the tray menu (or: kanzleisync auth login --worker anna@kanzlei.de).": "Please choose “Sign in” in the tray menu.",
		"… ein (oder: kanzleisync config settings set --active=true --confirm).":                          "… ein.",
		"Cache eintragen (oder: kanzleisync config entity set --name \"K\" … --cache PFAD).":              "Cache eintragen.",
		"Einzelheiten (siehe Protokoll).": "Einzelheiten (siehe Protokoll).",
	} {
		if got := forPeople(in); got != want {
			t.Errorf("forPeople(%q) = %q, want %q", in, got, want)
		}
	}
}
