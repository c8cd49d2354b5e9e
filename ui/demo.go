package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/core"
)

// ShowDemoHelp opens the demo's welcome window: what to try, with a button
// for each tray entry (some desktops hide tray icons).
func (a *App) ShowDemoHelp() {
	a.window("demo", "Demo", fyne.NewSize(640, 560), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		help := widget.NewLabel(a.o.DemoHelp)
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
		return container.NewVScroll(container.NewVBox(help, buttons)), nil
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
