package assets

import (
	"bytes"
	"image/png"
	"testing"
)

func TestIconsDecode(t *testing.T) {
	for _, s := range []TrayState{TrayOK, TrayWarning, TrayError, TraySyncing} {
		res := TrayIcon(s)
		img, err := png.Decode(bytes.NewReader(res.Content()))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if b := img.Bounds(); b.Dx() != b.Dy() || b.Dx() < 32 {
			t.Errorf("%s: %v, want a square of at least 32 px", s, b)
		}
	}
	if AppIcon().Name() != "app.png" {
		t.Errorf("app icon %q", AppIcon().Name())
	}
	if TrayState(9).String() != "TrayState(9)" {
		t.Error("unknown state string")
	}
}
