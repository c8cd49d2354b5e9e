// Package ui holds kanzleisync's Fyne windows, tray and widgets. Work in
// background goroutines reaches widgets only through this file: the
// engine's status through App.do, everything a window starts through
// inBackground.
package ui

import (
	"context"

	"fyne.io/fyne/v2"
)

// do runs f on the UI thread (fyne.Do), after any other update: the one
// bridge from background goroutines to widgets. uiMu orders it with the
// test driver, which runs Do at once on the calling goroutine.
func (a *App) do(f func()) {
	fyne.Do(func() {
		a.uiMu.Lock()
		defer a.uiMu.Unlock()
		f()
	})
}

// inBackground runs work off the UI thread, so a window stays responsive
// while the network is slow, and shows its result on the UI thread.
func inBackground[T any](a *App, work func(ctx context.Context) (T, error), show func(T, error)) {
	go func() {
		v, err := work(a.ctx)
		a.do(func() { show(v, err) })
	}()
}
