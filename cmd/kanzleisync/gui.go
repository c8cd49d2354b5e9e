package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"kanzleisync/app/core"
	"kanzleisync/app/text"
	"kanzleisync/assets"
	"kanzleisync/platform/autostart"
	"kanzleisync/platform/browser"
	"kanzleisync/platform/instance"
	"kanzleisync/ui"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "0.1.0"

// trayExtras are what the demo adds to the tray application.
type trayExtras struct {
	mailTLS *tls.Config
	demo    []ui.Action
	help    func() string
	openURL func(string) error
	// after runs in the background once the window system is up.
	after func(ctx context.Context, fa fyne.App, a *ui.App, eng *core.Engine)
	// lock is the single-instance lock when the caller took it already (the
	// demo, before its emulator writes the settings); current is what its
	// onShow brings to the front.
	lock    *instance.Lock
	current *atomic.Pointer[ui.App]
}

// acquireInstance makes this process the user's instance; a later start
// brings current's Konten window to the front.
func acquireInstance(dir string, current *atomic.Pointer[ui.App]) (*instance.Lock, error) {
	return instance.Acquire(dir, func() {
		if current.Load() == nil {
			return // no windows (yet, or headless)
		}
		fyne.Do(func() {
			if a := current.Load(); a != nil {
				a.ShowAccounts()
			}
		})
	})
}

// headless reports whether there is no display to open windows on.
func headless() bool {
	return runtime.GOOS == "linux" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == ""
}

// runTray runs the tray application until Beenden or Ctrl+C.
func runTray(ctx context.Context, e env, x *trayExtras) int {
	if headless() {
		fmt.Fprintln(os.Stderr, text.T("Keine grafische Anzeige gefunden (DISPLAY ist nicht gesetzt): die Tray-Anwendung braucht eine Desktop-Sitzung.\nOhne Anzeige: „kanzleisync diagnose“, „kanzleisync sync --once“ und die anderen Befehle (kanzleisync help)."))
		return 1
	}
	if x == nil {
		x = &trayExtras{}
	}
	if os.Getenv("GOGC") == "" {
		// A tray application idles most of the day: a heap goal of half the
		// live heap (instead of the whole) keeps the first full export from
		// pushing RSS past 120 MB (measured 121.6 → 115.9 MB, issue 6).
		debug.SetGCPercent(50)
	}
	fa := fyneapp.NewWithID("de.kanzleisync.app")
	fa.SetIcon(assets.AppIcon())
	current := x.current
	if x.lock == nil {
		current = new(atomic.Pointer[ui.App])
		lock, err := acquireInstance(e.dataDir, current)
		if errors.Is(err, instance.ErrRunning) {
			fmt.Println(err)
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer lock.Close()
	}
	eng := core.New(core.Options{Store: e.store, Repo: e.repo, Auth: e.auth, MailTLS: x.mailTLS, Logger: e.logger, Notify: ui.Notifier(fa), Transfer: e.transfer, WatchCache: watchCache()})
	openURL := x.openURL
	if openURL == nil {
		openURL = browser.Open
	}
	if err := (autostart.Switch{}).Tidy(); err != nil {
		e.logger.Warn("autostart: the user's entry beside the machine's stays", "error", err.Error())
	}
	a := ui.New(ctx, fa, eng, ui.Options{OpenURL: openURL, Demo: x.demo, DemoHelp: x.help, Autostart: autostart.Switch{},
		Version: version, DataDir: e.dataDir, LogFile: e.logPath, TransferLog: filepath.Join(e.dataDir, "kanzleisync-transfer.log")})
	current.Store(a)
	if err := eng.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer eng.Close()
	ended := make(chan struct{})
	go func() { // Ctrl+C or SIGTERM end the application like "Beenden"
		select {
		case <-ctx.Done():
			fyne.Do(fa.Quit)
		case <-ended:
		}
	}()
	fa.Lifecycle().SetOnStarted(func() {
		if x.help != nil {
			a.ShowDemoHelp()
		}
		if x.after != nil {
			go x.after(ctx, fa, a, eng)
		}
	})
	fa.Run()
	close(ended)
	return 0
}
