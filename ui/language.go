package ui

import (
	"regexp"

	"fyne.io/fyne/v2"

	"kanzleisync/app/text"
)

// translated is a list of catalog ids in the current language (the
// choices of a radio or check group).
func translated(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = text.T(id)
	}
	return out
}

// reopeners are the windows that a language switch builds anew, each with
// what opens it. The windows of one task (a sign-in, an account being
// edited, the unsent mail of one account) keep their language until they
// are opened again.
func (a *App) reopeners() map[string]func() {
	return map[string]func(){
		"settings": func() { a.ShowSettings() },
		"sync":     func() { a.ShowSync() },
		"journal":  func() { a.ShowJournal() },
		"about":    a.ShowAbout,
		"accounts": func() { a.ShowAccounts() },
		"diagnose": func() { a.ShowDiagnose(true) },
		"testmail": func() { a.ShowTestMail("", "") },
		"demo":     a.ShowDemoHelp,
		"menu":     a.ShowMenuPreview,
	}
}

// SetLanguage switches the tray menu, the open windows and every message
// to lang ("de" or "en") at once, and keeps the choice.
func (a *App) SetLanguage(lang string) {
	if text.Language() == lang {
		return
	}
	text.SetLanguage(lang)
	a.fa.Preferences().SetString("language", text.Language())
	a.status = a.eng.Status() // its reason is made in the new language
	a.buildMenu()
	var old []fyne.Window
	reopened := 0
	for name, open := range a.reopeners() {
		w, ok := a.windows[name]
		if !ok {
			continue
		}
		visible := a.shown[name]
		delete(a.windows, name)
		delete(a.refresh, name)
		delete(a.screens, name)
		delete(a.shown, name)
		old = append(old, w)
		if visible {
			open()
			reopened++
		}
	}
	// the new windows are open before the old ones close: Fyne quits when
	// its last window goes. Without a new one the old stay hidden, detached
	// (they are built anew when opened again).
	for _, w := range old {
		if reopened > 0 {
			w.Close()
		} else {
			w.Hide()
		}
	}
	a.apply(a.status)
	// the engine's warnings are made anew in the background
	go a.eng.RefreshWarnings(a.ctx)
}

// commandHint is the command-line way in a message: "(oder: kanzleisync
// auth login --worker …)". The command line prints it for IT; a
// Sachbearbeiter's window leaves it out.
var commandHint = regexp.MustCompile(` ?\((oder|or): kanzleisync [^()]*(\([^()]*\)[^()]*)*\)`)

// forPeople is a message as a Sachbearbeiter's window shows it.
func forPeople(s string) string { return commandHint.ReplaceAllString(s, "") }
