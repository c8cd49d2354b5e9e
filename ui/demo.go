package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/handoff"
	"kanzleisync/app/text"
)

// ShowDemoHelp opens the demo's welcome window: what to try, with a button
// for each tray entry (some desktops hide tray icons).
func (a *App) ShowDemoHelp() {
	a.window("demo", "Demo", fyne.NewSize(640, 560), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		help := widget.NewLabel(a.o.DemoHelp())
		help.Wrapping = fyne.TextWrapWord
		buttons := container.NewGridWithColumns(2)
		for _, it := range a.menu.Items {
			if it.IsSeparator || it.Disabled || it.IsQuit {
				continue
			}
			if it.ChildMenu != nil {
				for _, c := range it.ChildMenu.Items {
					if c.Action != nil {
						buttons.Add(widget.NewButton(it.Label+": "+c.Label, c.Action))
					}
				}
				continue
			}
			buttons.Add(widget.NewButton(it.Label, it.Action))
		}
		a.demoKommunikator = widget.NewLabel("")
		a.demoKommunikator.Wrapping = fyne.TextWrapWord
		fetch := widget.NewButton(text.T("Im Kommunikator abrufen"), a.FetchAsKommunikator)
		return container.NewVScroll(container.NewVBox(help, buttons, widget.NewSeparator(),
			widget.NewLabel(text.T("Der Kommunikator holt die Mail über den lokalen POP3-Server von kanzleisync ab (hier spielt die Demo ihn):")),
			container.NewHBox(fetch), a.demoKommunikator)), nil
	})
}

// FetchAsKommunikator plays the Kommunikator in the demo: every account's
// waiting mail is fetched and deleted through the local POP3 server with
// the account's local password, as the practice software would; the
// result is shown in the demo window.
func (a *App) FetchAsKommunikator() {
	st := a.eng.Status()
	inBackground(a, func(ctx context.Context) (string, error) {
		if st.LocalPOP3 == "" {
			return "", text.Errorf("Der lokale POP3-Server läuft nicht (Schnittstelle aktiv? Einstellung „localPop3“?)")
		}
		var lines []string
		for _, acc := range st.Accounts {
			pw, err := a.eng.LocalPassword(acc.Account.Address)
			var n int
			if err == nil {
				n, err = handoff.TakeAll(ctx, st.LocalPOP3, acc.Account.Address, pw)
			}
			if err != nil {
				return "", fmt.Errorf("%s: %s", acc.Account.Address, core.Explain(err, config.Entity{}, ""))
			}
			lines = append(lines, text.F("%s: %s abgeholt", acc.Account.Address, text.N(n, "Nachricht", "Nachrichten")))
		}
		return text.F("%s\nBei Microsoft 365 löscht kanzleisync sie beim nächsten Abruf.", strings.Join(lines, "\n")), nil
	}, func(text string, err error) {
		if a.demoKommunikator == nil {
			return
		}
		if err != nil {
			text = err.Error()
		}
		a.demoKommunikator.SetText(text)
	})
}

// ShowMenuPreview shows the tray menu in a window, as the desktop's tray
// would draw it (for screenshots and desktops without a tray).
func (a *App) ShowMenuPreview() {
	a.window("menu", "Tray-Menü", fyne.NewSize(420, 480), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		icon := widget.NewIcon(nil)
		return container.NewBorder(container.NewHBox(icon, widget.NewLabel("kanzleisync")), nil, nil, nil, widget.NewMenu(a.menu)),
			func(core.Status) { icon.SetResource(trayIcon(a.TrayState())) }
	})
}
