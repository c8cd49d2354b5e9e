package main

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
	"kanzleisync/app/core"
	"kanzleisync/app/demo"
	"kanzleisync/app/diagnose"
	"kanzleisync/ui"
)

// screenshots drives the real application through its screens and writes
// each window, as the window system drew it, into dir.
func screenshots(ctx context.Context, dir string, d *demo.Demo, a *ui.App, eng *core.Engine) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Sign every demo worker in (the robot answers the pages) and wait for
	// the first export of each.
	for _, w := range d.Workers {
		if err := eng.SignIn(ctx, w.UPN, authOptions(d)); err != nil {
			return fmt.Errorf("sign in %s: %w", w.UPN, err)
		}
	}
	if !waitFor(ctx, 90*time.Second, func() bool {
		st := eng.Status()
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
	var diag *ui.DiagnoseScreen
	var mailScreen *ui.TestMailScreen
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
		{"konto-bearbeiten", "account-edit", func() { a.ShowAccountEditor(d.Workers[0].UPN, d.Workers[0].Accounts[0].Address) }, nil},
		{"einstellungen", "settings", func() { a.ShowSettings() }, nil},
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
	for _, b := range d.Breakages() {
		if b.Label == "Clientschlüssel läuft in 7 Tagen ab" || b.Label == "Administratorzustimmung entziehen" {
			if err := eng.ApplyDemo(ctx, b.Apply); err != nil {
				return err
			}
		}
	}
	eng.RefreshWarnings(ctx)
	fyne.DoAndWait(func() { diag = a.ShowDiagnose(true) })
	if !waitFor(ctx, 60*time.Second, onUI(func() bool { return diag.Reports != nil })) {
		return fmt.Errorf("the second test did not finish within 60 s")
	}
	if err := shot("anbindung-testen-fehler", "diagnose"); err != nil {
		return err
	}
	// A cache restored empty: the guard holds every deletion back.
	for _, b := range d.Breakages() {
		if b.Label == "Alles wieder in Ordnung bringen" {
			defer func() { _ = eng.ApplyDemo(ctx, b.Apply) }() // repair last
		}
		if b.Label == demo.EmptyCache {
			if err := eng.ApplyDemo(ctx, b.Apply); err != nil {
				return err
			}
		}
	}
	eng.SyncNow()
	if !waitFor(ctx, 60*time.Second, func() bool {
		for _, s := range eng.Status().Sync {
			if s.Result.Held > 0 && !s.Running {
				return true
			}
		}
		return false
	}) {
		return fmt.Errorf("the cycle over the emptied cache held nothing within 60 s")
	}
	fyne.DoAndWait(func() { a.ShowSync() })
	return shot("synchronisation-zurueckgehalten", "sync")
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

func authOptions(d *demo.Demo) auth.SignInOptions {
	return auth.SignInOptions{OpenBrowser: robot(), Timeout: 30 * time.Second}
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
