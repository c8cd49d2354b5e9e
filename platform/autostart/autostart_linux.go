package autostart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kanzleisync/app/text"
)

func (s Switch) file() (string, error) {
	dir := s.Dir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(base, "autostart")
	}
	return filepath.Join(dir, "kanzleisync.desktop"), nil
}

// Enabled reports whether kanzleisync starts with the session.
func (s Switch) Enabled() bool {
	f, err := s.file()
	if err != nil {
		return false
	}
	_, err = os.Stat(f)
	return err == nil
}

// Set writes or removes the autostart entry.
func (s Switch) Set(on bool) error {
	f, err := s.file()
	if err != nil {
		return fmt.Errorf("Autostart: %w", err)
	}
	if !on {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return text.Errorf("Der Autostart konnte nicht ausgeschaltet werden: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return text.Errorf("Der Autostart konnte nicht eingeschaltet werden: %w", err)
	}
	exe := strings.ReplaceAll(s.exe(), `"`, `\"`)
	entry := text.F("[Desktop Entry]\nType=Application\nName=kanzleisync\nComment=Synchronisation mit Microsoft 365\nExec=\"%s\"\nX-GNOME-Autostart-enabled=true\n", exe)
	if err := os.WriteFile(f, []byte(entry), 0o644); err != nil {
		return text.Errorf("Der Autostart konnte nicht eingeschaltet werden: %w", err)
	}
	return nil
}

// Machine reports whether kanzleisync starts for every user of this
// computer; on Linux that is a package's business (/etc/xdg/autostart),
// which kanzleisync does not manage: the user's entry is all there is.
func (s Switch) Machine() bool { return false }

// Tidy: nothing to tidy on Linux.
func (s Switch) Tidy() error { return nil }
