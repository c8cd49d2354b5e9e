package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync/atomic"

	"fyne.io/fyne/v2"

	"kanzleisync/app/auth"
	"kanzleisync/app/core"
	"kanzleisync/app/demo"
	"kanzleisync/app/text"
	"kanzleisync/platform/instance"
	"kanzleisync/ui"
)

// runDemo starts the emulator in-process with a demo tenant and cache and
// runs the tray application against it; without a display it runs what it
// can in the terminal.
func runDemo(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	noWindow := fs.Bool("headless", false, text.T("ohne Fenster: Emulator, Anmeldelink, eine Synchronisation, Testmail"))
	shots := fs.String("screenshots", "", text.T("jedes Fenster als PNG in dieses Verzeichnis schreiben und beenden"))
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	// one demo per data directory: a second one must not point the shared
	// demo settings at its own emulator and take it away on exit
	current := new(atomic.Pointer[ui.App])
	lock, err := acquireInstance(e.dataDir, current)
	if errors.Is(err, instance.ErrRunning) {
		fmt.Println(text.T("Die Demo läuft schon (Tray-Symbol); das laufende Programm wurde nach vorn geholt. Eine zweite Demo startet erst, wenn die erste beendet ist."))
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer lock.Close()
	d, err := demo.Start(ctx, e.dataDir, e.repo, e.auth, e.logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, text.T("Demo")+":", auth.Explain(err, auth.Context{}).String())
		return 1
	}
	defer d.Close()
	if *noWindow || headless() {
		if !*noWindow {
			fmt.Println(text.T("Keine grafische Anzeige gefunden (DISPLAY ist nicht gesetzt): die Demo zeigt im Terminal, was ohne Fenster geht."))
		}
		return d.Headless(ctx, os.Stdout, e.store, e.repo, e.auth, e.logger)
	}
	var actions []ui.Action
	for _, b := range d.Breakages() {
		actions = append(actions, ui.Action{Label: b.Label, Do: func(ctx context.Context) error { return b.Apply(ctx, e.repo) }})
	}
	x := &trayExtras{mailTLS: d.MailTLS, demo: actions, help: demo.Help, lock: lock, current: current}
	if *shots != "" {
		x.openURL = robot() // nobody types the password while screenshots are taken
		x.after = func(ctx context.Context, fa fyne.App, a *ui.App, eng *core.Engine) {
			if err := a.Screenshots(ctx, *shots); err != nil {
				fmt.Fprintln(os.Stderr, "screenshots:", err)
			}
			fyne.Do(fa.Quit)
		}
	}
	if *shots == "" {
		// the terminal that ran `make run` says what happens on the screen
		fmt.Printf(text.T("kanzleisync-Demo gegen den eingebauten Microsoft-365-Emulator (%s).\n"), d.Sim.URL())
		fmt.Println(text.T("Auf dem Bildschirm: das Tray-Symbol und das Fenster „Demo“ mit ihren Schritten;"))
		fmt.Println(text.T("das Menü des Tray-Symbols öffnet die übrigen Fenster, „Demo: etwas kaputt machen“ zeigt Fehlerfälle."))
		fmt.Println(text.T("Beenden: im Menü des Tray-Symbols „Beenden“, oder hier Strg+C."))
	}
	return runTray(ctx, e, x)
}

// robot answers the emulator's sign-in pages for the user named in the
// link, as the demo's stand-in for a person at a browser.
func robot() func(string) error {
	return demo.Robot(func(err error) { fmt.Fprintln(os.Stderr, text.T("Demo-Anmeldung:"), err) })
}
