package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"kanzleisync/app/auth"
	"kanzleisync/app/demo"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/text"
)

// screenshots drives the real application through its screens and writes
// each window, as the window system drew it, into dir.
func (a *App) Screenshots(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Sign every worker in (Options.OpenURL answers the pages: the demo's
	// robot) and wait for the first export of each.
	workers, err := a.eng.Workers(ctx)
	if err != nil {
		return err
	}
	for _, w := range workers {
		if err := a.eng.SignIn(ctx, w.UPN, auth.SignInOptions{OpenBrowser: a.o.OpenURL, Timeout: 30 * time.Second}); err != nil {
			return fmt.Errorf("sign in %s: %w", w.UPN, err)
		}
	}
	if len(workers) == 0 || len(workers[0].Accounts) == 0 {
		return fmt.Errorf("screenshots need a worker with a mail account (the demo firm)")
	}
	if !waitFor(ctx, 90*time.Second, func() bool {
		st := a.eng.Status()
		for _, s := range st.Sync {
			if s.LastRun.IsZero() || s.Running {
				return false
			}
		}
		for _, acc := range st.Accounts {
			if acc.LastFetch.IsZero() {
				return false
			}
		}
		return len(st.Sync) > 0
	}) {
		return fmt.Errorf("the first export did not finish within 90 s")
	}
	// shot asks the X server for the window's pixels (ImageMagick's
	// import), so the picture is what the window system shows.
	shot := func(name, win string) error {
		time.Sleep(1500 * time.Millisecond) // let the window system map and draw it
		var title string
		fyne.DoAndWait(func() {
			if w := a.Window(win); w != nil {
				title = w.Title()
			}
		})
		if title == "" {
			return fmt.Errorf("window %s is not open", win)
		}
		id, err := windowID(ctx, title)
		if err != nil {
			return err
		}
		file := filepath.Join(dir, name+".png")
		if out, err := exec.CommandContext(ctx, "import", "-window", id, file).CombinedOutput(); err != nil {
			return fmt.Errorf("import %s: %v: %s", title, err, out)
		}
		fyne.DoAndWait(func() { a.CloseWindow(win) })
		fmt.Println("screenshot:", file)
		return nil
	}
	onUI := func(f func() bool) func() bool {
		return func() bool { var ok bool; fyne.DoAndWait(func() { ok = f() }); return ok }
	}
	var diag *DiagnoseScreen
	var mailScreen *TestMailScreen
	steps := []struct {
		name, win string
		open      func()
		done      func() bool
	}{
		{"demo", "demo", a.ShowDemoHelp, nil},
		{"tray-menu", "menu", a.ShowMenuPreview, nil},
		{"anbindung-testen", "diagnose", func() { diag = a.ShowDiagnose(true) }, func() bool { return diag.Reports != nil }},
		{"testmail", "testmail", func() { mailScreen = a.ShowTestMail("", ""); mailScreen.Send.OnTapped() },
			func() bool { return mailScreen.Dot.Status != diagnose.Grey }},
		{"konten-verwalten", "accounts", func() { a.ShowAccounts() }, nil},
		{"konto-bearbeiten", "account-edit", func() { a.ShowAccountEditor(workers[0].UPN, workers[0].Accounts[0].Address) }, nil},
		{"einstellungen", "settings", func() { a.ShowSettings() }, nil},
		{"was-die-kanzlei-verlaesst", "settings", func() {
			st := a.ShowSettings()
			st.Tabs.SelectIndex(3)
			st.Disclosure["terminBetreff"].Choice.SetSelected(text.T(choiceFileNo))
			st.Disclosure["terminText"].Choice.SetSelected(text.T(choiceFileNo))
			a.previewDisclosure(st)
		}, nil},
		{"synchronisation", "sync", func() { a.ShowSync() }, nil},
		{"protokoll", "journal", func() { a.ShowJournal() }, nil},
		{"ueber", "about", a.ShowAbout, nil},
	}
	for _, s := range steps {
		fyne.DoAndWait(s.open)
		if s.done != nil && !waitFor(ctx, 60*time.Second, onUI(s.done)) {
			return fmt.Errorf("%s did not finish within 60 s", s.name)
		}
		if err := shot(s.name, s.win); err != nil {
			return err
		}
	}
	// Break something: the secret expires in 7 days and the admin consent
	// is withdrawn; the test shows yellow and red with the German fixes.
	for _, label := range []string{text.Mark("Clientschlüssel läuft in 7 Tagen ab"), text.Mark("Administratorzustimmung entziehen")} {
		if err := a.demoAction(ctx, label); err != nil {
			return err
		}
	}
	a.eng.RefreshWarnings(ctx)
	fyne.DoAndWait(func() { diag = a.ShowDiagnose(true) })
	if !waitFor(ctx, 60*time.Second, onUI(func() bool { return diag.Reports != nil })) {
		return fmt.Errorf("the second test did not finish within 60 s")
	}
	if err := shot("anbindung-testen-fehler", "diagnose"); err != nil {
		return err
	}
	// A cache restored empty: the guard holds every deletion back.
	defer func() { _ = a.demoAction(ctx, text.Mark("Alles wieder in Ordnung bringen")) }() // repair last
	if err := a.demoAction(ctx, demo.EmptyCache); err != nil {
		return err
	}
	a.eng.SyncNow()
	if !waitFor(ctx, 60*time.Second, func() bool {
		for _, s := range a.eng.Status().Sync {
			if s.Result.Held > 0 && !s.Running {
				return true
			}
		}
		return false
	}) {
		return fmt.Errorf("the cycle over the emptied cache held nothing within 60 s")
	}
	fyne.DoAndWait(func() { a.ShowSync() })
	if err := shot("synchronisation-zurueckgehalten", "sync"); err != nil {
		return err
	}
	// The same screens in English (Einstellungen → Sprache), then German again.
	fyne.DoAndWait(func() { a.SetLanguage(text.English) })
	defer fyne.DoAndWait(func() { a.SetLanguage(text.German) })
	english := []struct {
		name, win string
		open      func()
	}{
		{"demo-en", "demo", a.ShowDemoHelp},
		{"tray-menu-en", "menu", a.ShowMenuPreview},
		{"anbindung-testen-en", "diagnose", func() { diag = a.ShowDiagnose(true) }},
		{"konten-verwalten-en", "accounts", func() { a.ShowAccounts() }},
		{"einstellungen-en", "settings", func() { a.ShowSettings() }},
		{"synchronisation-en", "sync", func() { a.ShowSync() }},
		{"protokoll-en", "journal", func() { a.ShowJournal() }},
	}
	for _, s := range english {
		fyne.DoAndWait(s.open)
		if s.win == "diagnose" && !waitFor(ctx, 60*time.Second, onUI(func() bool { return diag.Reports != nil })) {
			return fmt.Errorf("the English test did not finish within 60 s")
		}
		if err := shot(s.name, s.win); err != nil {
			return err
		}
	}
	return nil
}

func waitFor(ctx context.Context, limit time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if ok() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// demoAction runs the demo entry of that label (Options.Demo).
func (a *App) demoAction(ctx context.Context, label string) error {
	for _, d := range a.o.Demo {
		if d.Label == label {
			return d.Do(ctx)
		}
	}
	return fmt.Errorf("no demo entry %q", label)
}

// windowID finds a window's X id by its title (xwininfo).
func windowID(ctx context.Context, title string) (string, error) {
	out, err := exec.CommandContext(ctx, "xwininfo", "-root", "-tree").Output()
	if err != nil {
		return "", fmt.Errorf("xwininfo: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.Contains(line, `"`+title+`"`) {
			return f[0], nil
		}
	}
	return "", fmt.Errorf("no X window titled %q", title)
}
