// Package assets holds the icons of kanzleisync, embedded into the binary.
// The PNGs are drawn by gen_icons.go (go run assets/gen_icons.go).
package assets

import (
	"embed"
	"fmt"

	"fyne.io/fyne/v2"
)

//go:embed icons/*.png
var icons embed.FS

// TrayState is what the tray icon shows.
type TrayState int

const (
	TrayOK      TrayState = iota // all modules work
	TrayWarning                  // works, but something needs attention soon
	TrayError                    // a module fails
	TraySyncing                  // an export or mail fetch is running
)

func (s TrayState) String() string {
	switch s {
	case TrayOK:
		return "ok"
	case TrayWarning:
		return "warning"
	case TrayError:
		return "error"
	case TraySyncing:
		return "sync"
	}
	return fmt.Sprintf("TrayState(%d)", int(s))
}

func resource(name string) fyne.Resource {
	b, err := icons.ReadFile("icons/" + name + ".png")
	if err != nil {
		panic("assets: missing embedded icon " + name) // a build defect, caught by the tests
	}
	return fyne.NewStaticResource(name+".png", b)
}

// TrayIcon returns the icon of a tray state.
func TrayIcon(s TrayState) fyne.Resource { return resource("tray-" + s.String()) }

// AppIcon is the application's icon.
func AppIcon() fyne.Resource { return resource("app") }
