package ui

import (
	"context"
	"fmt"
	"image/color"
	"log/slog"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/text"
	"kanzleisync/assets"
)

// Action is an entry of the demo menu.
type Action struct {
	Label string
	Do    func(ctx context.Context) error
}

// Options configure the tray application.
type Options struct {
	// OpenURL opens a link in the browser (sign-in, admin consent).
	OpenURL func(string) error
	// Demo, when set, adds the menu "Demo: etwas kaputt machen".
	Demo []Action
	// DemoHelp is the text of the demo's welcome window.
	DemoHelp func() string
	// Autostart switches "start with the system" (nil: not offered).
	Autostart Autostart
	Version   string
	// DataDir, LogFile and TransferLog are shown under "Über".
	DataDir, LogFile, TransferLog string
	// SignInTimeout for the browser sign-in (default 120 s).
	SignInTimeout time.Duration
}

// Autostart is the OS's "start with the system" switch.
type Autostart interface {
	Enabled() bool
	Set(on bool) error
}

// App is the tray application. All its methods run on Fyne's UI thread.
type App struct {
	fa  fyne.App
	eng Engine
	o   Options
	ctx context.Context

	status  core.Status
	menu    *fyne.Menu
	header  *fyne.MenuItem
	windows map[string]fyne.Window
	// shown: the window is on the screen (closing only hides it)
	shown map[string]bool
	// refresh holds, per open window, what redraws it from the status.
	refresh map[string]func(core.Status)
	// uiMu serialises the updates from background work. On the desktop
	// they all run on Fyne's main thread anyway; Fyne's test driver runs
	// fyne.Do on the calling goroutine, where this lock keeps them apart.
	uiMu sync.Mutex
	// admin: the administrator unlocked the settings in this session.
	admin config.Admin // the administrator unlocked Einstellungen
	// demoKommunikator shows what the demo's Kommunikator fetched
	demoKommunikator *widget.Label
	// screens holds the widgets of each open window, for tests and screenshots.
	screens map[string]any
}

// Notifier returns the function that shows an expiry warning as a desktop
// notification (core.Options.Notify).
func Notifier(fa fyne.App) func(diagnose.Warning) {
	return func(w diagnose.Warning) { fa.SendNotification(fyne.NewNotification(w.Title, w.Text)) }
}

// New builds the tray and subscribes to the engine.
func New(ctx context.Context, fa fyne.App, eng Engine, o Options) *App {
	if o.OpenURL == nil {
		o.OpenURL = func(string) error { return text.Errorf("kein Browser") }
	}
	text.SetLanguage(fa.Preferences().StringWithFallback("language", text.Language()))
	a := &App{fa: fa, eng: eng, o: o, ctx: ctx, windows: map[string]fyne.Window{}, shown: map[string]bool{}, refresh: map[string]func(core.Status){}, screens: map[string]any{}}
	a.status = eng.Status()
	a.buildMenu()
	// the status is read again on the UI thread: its texts are then in the
	// language of that moment, also when it was switched on the way
	eng.Subscribe(func(core.Status) { a.do(func() { a.apply(eng.Status()) }) })
	a.apply(eng.Status())
	return a
}

// TrayState is what the tray picture shows now.
func (a *App) TrayState() assets.TrayState {
	switch a.status.State {
	case core.Error:
		return assets.TrayError
	case core.Warning:
		return assets.TrayWarning
	case core.Syncing:
		return assets.TraySyncing
	}
	return assets.TrayOK
}

// Status is the last status the tray showed.
func (a *App) Status() core.Status { return a.status }

// Menu is the tray menu.
func (a *App) Menu() *fyne.Menu { return a.menu }

func (a *App) buildMenu() {
	a.header = fyne.NewMenuItem(a.status.Reason, nil)
	a.header.Disabled = true
	signIn := fyne.NewMenuItem(text.T("Anmelden"), nil)
	a.menu = fyne.NewMenu("kanzleisync",
		a.header,
		fyne.NewMenuItemSeparator(),
		signIn,
		fyne.NewMenuItem(text.T("Anbindung testen"), func() { a.ShowDiagnose(true) }),
		fyne.NewMenuItem(text.T("Testmail senden"), func() { a.ShowTestMail("", "") }),
		fyne.NewMenuItem(text.T("Jetzt synchronisieren"), func() { a.eng.SyncNow(); a.ShowSync() }),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem(text.T("Konten verwalten"), func() { a.ShowAccounts() }),
		fyne.NewMenuItem(text.T("Einstellungen"), func() { a.ShowSettings() }),
		fyne.NewMenuItem(text.T("Protokoll"), func() { a.ShowJournal() }),
		fyne.NewMenuItem(text.T("Über"), func() { a.ShowAbout() }),
	)
	a.updateSignInMenu(signIn)
	if len(a.o.Demo) > 0 {
		demo := fyne.NewMenuItem(text.T("Demo: etwas kaputt machen"), nil)
		var items []*fyne.MenuItem
		for _, d := range a.o.Demo {
			items = append(items, fyne.NewMenuItem(text.T(d.Label), func() { a.runDemo(d) }))
		}
		demo.ChildMenu = fyne.NewMenu("", items...)
		a.menu.Items = append(a.menu.Items, fyne.NewMenuItemSeparator(), demo)
	}
	quit := fyne.NewMenuItem(text.T("Beenden"), func() { a.fa.Quit() })
	quit.IsQuit = true
	a.menu.Items = append(a.menu.Items, fyne.NewMenuItemSeparator(), quit)
	if desk, ok := a.fa.(desktop.App); ok {
		desk.SetSystemTrayMenu(a.menu)
	}
}

// updateSignInMenu lists the case workers under "Anmelden".
func (a *App) updateSignInMenu(item *fyne.MenuItem) {
	workers, err := a.eng.Workers(a.ctx)
	if err != nil || len(workers) == 0 {
		item.ChildMenu = fyne.NewMenu("", disabled(text.T("Kein Sachbearbeiter eingerichtet")))
		return
	}
	var items []*fyne.MenuItem
	for _, w := range workers {
		items = append(items, fyne.NewMenuItem(w.DisplayName+" ("+w.UPN+")", func() { a.SignIn(w.UPN) }))
	}
	item.ChildMenu = fyne.NewMenu("", items...)
}

func disabled(label string) *fyne.MenuItem {
	m := fyne.NewMenuItem(label, nil)
	m.Disabled = true
	return m
}

// MenuItem finds a tray menu entry by its label (for tests and screenshots).
func (a *App) MenuItem(label string) *fyne.MenuItem {
	for _, it := range a.menu.Items {
		if it.Label == label {
			return it
		}
	}
	return nil
}

// setTrayIcon shows the tray picture of the status. On Linux the tray is
// a D-Bus object; once the connection is closed (the application quits
// while a status arrives, the session ends) fyne's systray panics in
// SetIcon (props.SetMust) — seen once at the end of make screenshots. The
// picture is then no longer shown anywhere, so the panic is caught here and
// the application ends as it was going to.
func (a *App) setTrayIcon() {
	desk, ok := a.fa.(desktop.App)
	if !ok {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			slog.Default().Warn("tray icon not updated", "error", fmt.Sprint(r))
		}
	}()
	desk.SetSystemTrayIcon(trayIcon(a.TrayState()))
}

// apply shows a new status: tray picture, first menu line, banners, open windows.
func (a *App) apply(st core.Status) {
	a.status = st
	a.setTrayIcon()
	if a.header != nil {
		a.header.Label = shorten(forPeople(st.Reason), 90)
		a.menu.Refresh()
	}
	for name, f := range a.refresh {
		if _, open := a.windows[name]; open {
			f(st)
		}
	}
}

func trayIcon(s assets.TrayState) fyne.Resource { return assets.TrayIcon(s) }

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// window returns the window of a screen, creating it with build; title is
// a catalog id. Closing the window hides it, and the app stays in the tray.
func (a *App) window(name, title string, size fyne.Size, build func(w fyne.Window) (fyne.CanvasObject, func(core.Status))) fyne.Window {
	if w, ok := a.windows[name]; ok {
		w.Show()
		w.RequestFocus()
		a.shown[name] = true
		return w
	}
	w := a.fa.NewWindow(text.T(title) + " – kanzleisync")
	w.SetIcon(assets.AppIcon())
	banner, refreshBanner := a.banner()
	content, refresh := build(w)
	w.SetContent(container.NewBorder(banner, nil, nil, nil, content))
	w.Resize(size)
	// Closing hides: the window keeps its state for the next time and the
	// application stays in the tray. (Fyne quits when its last window is
	// destroyed; windows here are never destroyed, only hidden.)
	w.SetCloseIntercept(func() { a.CloseWindow(name) })
	a.windows[name] = w
	a.refresh[name] = func(st core.Status) {
		refreshBanner(st)
		if refresh != nil {
			refresh(st)
		}
	}
	a.refresh[name](a.status)
	w.Show()
	a.shown[name] = true
	return w
}

// CloseWindow is what the window's close button does: it hides the window.
func (a *App) CloseWindow(name string) {
	if w, ok := a.windows[name]; ok {
		w.Hide()
		a.shown[name] = false
	}
}

// reopen shows the window of a screen that is open already and returns its widgets.
func (a *App) reopen(name string) (any, bool) {
	w, ok := a.windows[name]
	if !ok {
		return nil, false
	}
	w.Show()
	w.RequestFocus()
	a.shown[name] = true
	return a.screens[name], true
}

// Window returns an open window by name (for tests and screenshots).
func (a *App) Window(name string) fyne.Window { return a.windows[name] }

// banner is the coloured line at the top of each window that carries the
// most important warning.
func (a *App) banner() (fyne.CanvasObject, func(core.Status)) {
	line := widget.NewLabel("")
	line.Wrapping = fyne.TextWrapWord
	line.TextStyle.Bold = true
	bg := canvas.NewRectangle(color.Transparent)
	box := container.NewStack(bg, container.NewPadded(line))
	return box, func(st core.Status) {
		var w *diagnose.Warning
		for i := range st.Warnings {
			if w == nil || st.Warnings[i].Status == diagnose.Red {
				w = &st.Warnings[i]
			}
		}
		if w == nil {
			box.Hide()
			return
		}
		line.SetText(w.Title + ": " + forPeople(w.Text))
		bg.FillColor = dotColor(w.Status)
		bg.FillColor = withAlpha(bg.FillColor, 0x55)
		bg.Refresh()
		box.Show()
	}
}

func withAlpha(c color.Color, alpha uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: alpha}
}

// dotColor is a status dot's colour.
func dotColor(s diagnose.Status) color.Color {
	switch s {
	case diagnose.Green:
		return color.NRGBA{R: 0x2e, G: 0x9e, B: 0x44, A: 0xff}
	case diagnose.Yellow:
		return color.NRGBA{R: 0xe0, G: 0xa8, B: 0x00, A: 0xff}
	case diagnose.Red:
		return color.NRGBA{R: 0xd0, G: 0x2b, B: 0x2b, A: 0xff}
	}
	return color.NRGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
}

// Dot is a coloured status dot with its colour's name beside it, so that
// the state does not depend on seeing colours.
type Dot struct {
	widget.BaseWidget
	Status diagnose.Status
	circle *canvas.Circle
	label  *canvas.Text
}

// NewDot returns a dot of status s.
func NewDot(s diagnose.Status) *Dot {
	d := &Dot{Status: s, circle: canvas.NewCircle(dotColor(s)), label: canvas.NewText(s.Label(), theme.Color(theme.ColorNameForeground))}
	d.label.TextSize = theme.CaptionTextSize()
	d.ExtendBaseWidget(d)
	return d
}

// Set changes the dot's status.
func (d *Dot) Set(s diagnose.Status) {
	d.Status = s
	d.circle.FillColor = dotColor(s)
	d.label.Text = s.Label()
	d.Refresh()
}

// CreateRenderer draws the circle and the label.
func (d *Dot) CreateRenderer() fyne.WidgetRenderer {
	circle := container.NewGridWrap(fyne.NewSize(14, 14), d.circle)
	return widget.NewSimpleRenderer(container.NewHBox(container.NewCenter(circle), container.NewCenter(d.label)))
}

// SignInScreen is the window of one worker's browser sign-in.
type SignInScreen struct {
	Status  *widget.Label
	Link    *widget.Entry
	running bool
}

// SignIn runs the browser sign-in of a case worker and reports the outcome
// in a window: the link to copy if no browser opens, then the result. A
// sign-in already running for the worker is only brought to the front.
func (a *App) SignIn(upn string) *SignInScreen {
	name := "signin-" + strings.ToLower(upn)
	s, _ := a.screens[name].(*SignInScreen)
	if _, open := a.reopen(name); !open || s == nil {
		s = &SignInScreen{}
		a.window(name, "Anmelden", fyne.NewSize(560, 240), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
			s.Status = widget.NewLabel("")
			s.Status.Wrapping = fyne.TextWrapWord
			s.Link = widget.NewEntry()
			return container.NewVBox(s.Status, s.Link), nil
		})
		a.screens[name] = s
	}
	if s.running {
		return s
	}
	s.running = true
	s.Status.SetText(text.F("Anmeldung von %s: Der Browser öffnet die Anmeldeseite von Microsoft. Bitte dort anmelden.", upn))
	s.Link.Hide()
	timeout := a.o.SignInTimeout
	if timeout == 0 {
		timeout = 120 * time.Second
	}
	offer := func(u string) {
		a.do(func() {
			s.Status.SetText(text.T("Falls sich kein Browser geöffnet hat: diesen Link kopieren und im Browser öffnen."))
			s.Link.SetText(u)
			s.Link.Show()
		})
	}
	inBackground(a, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.eng.SignIn(ctx, upn, auth.SignInOptions{OpenBrowser: a.o.OpenURL, Timeout: timeout, OfferURL: offer})
	}, func(_ struct{}, err error) {
		s.running = false
		if err != nil {
			ent := a.entityOf(upn)
			s.Status.SetText(text.F("Anmeldung nicht abgeschlossen. %s", auth.Explain(err, auth.Context{Entity: ent, UPN: upn}).String()))
			return
		}
		s.Link.Hide()
		s.Status.SetText(text.F("%s ist angemeldet. Das Fenster kann geschlossen werden.", upn))
	})
	return s
}

func (a *App) entityOf(upn string) config.Entity {
	w, err := a.eng.Worker(a.ctx, upn)
	if err != nil {
		return config.Entity{}
	}
	ent, _ := a.eng.Entity(a.ctx, w.Entity)
	return ent
}

func (a *App) runDemo(d Action) {
	inBackground(a, func(ctx context.Context) (struct{}, error) {
		if err := d.Do(ctx); err != nil {
			return struct{}{}, err
		}
		a.eng.RefreshWarnings(ctx)
		a.eng.SyncNow()
		return struct{}{}, nil
	}, func(_ struct{}, err error) {
		if err != nil {
			a.fa.SendNotification(fyne.NewNotification(text.T("Demo"), text.T(d.Label)+": "+err.Error()))
		}
	})
}

// germanTime formats a time for the windows; zero is "noch nie".
func germanTime(t time.Time) string {
	if t.IsZero() {
		return text.T("noch nie")
	}
	return t.Local().Format("02.01.2006 15:04")
}
