package ui

import (
	"context"
	"errors"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// inBackground runs the work off the UI thread and shows its result in
// order, under the UI lock.
func TestInBackgroundShowsTheResultOnTheUIThread(t *testing.T) {
	test.NewTempApp(t)
	a := &App{ctx: context.Background()}
	label := widget.NewLabel("")
	release := make(chan struct{})
	shown := make(chan struct{})
	inBackground(a, func(ctx context.Context) (string, error) {
		<-release // the caller is not blocked by slow work
		return "Export 5/5", errors.New("zwei fehlgeschlagen")
	}, func(v string, err error) {
		if a.uiMu.TryLock() {
			a.uiMu.Unlock()
			t.Error("show ran without the UI lock")
		}
		label.SetText(v + ": " + err.Error())
		close(shown)
	})
	close(release)
	<-shown
	if label.Text != "Export 5/5: zwei fehlgeschlagen" {
		t.Errorf("label %q", label.Text)
	}
}
