// Package autostart is "Mit dem System starten": an XDG autostart entry on
// Linux, the user's Run key in the registry on Windows.
package autostart

import "os"

// Switch turns starting with the user's session on and off.
type Switch struct {
	// Exe is the program to start (default: this executable).
	Exe string
	// Dir overrides where the Linux entry goes (tests); default
	// $XDG_CONFIG_HOME/autostart.
	Dir string
}

func (s Switch) exe() string {
	if s.Exe != "" {
		return s.Exe
	}
	exe, err := os.Executable()
	if err != nil {
		return "kanzleisync"
	}
	return exe
}
