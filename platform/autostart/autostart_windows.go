package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"

	"kanzleisync/app/text"
)

const (
	runKey   = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue = "kanzleisync"
)

func hasRun(root registry.Key) bool {
	k, err := registry.OpenKey(root, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, _, err = k.GetStringValue(runValue)
	return err == nil
}

// Machine reports whether IT turned the autostart on for every user: the
// machine's Run key, written by the MSI with AUTOSTART=1.
func (s Switch) Machine() bool { return hasRun(registry.LOCAL_MACHINE) }

// Enabled reports whether kanzleisync starts with the user's session.
func (s Switch) Enabled() bool {
	return s.Machine() || hasRun(registry.CURRENT_USER)
}

// Set writes or removes the user's Run value. When IT starts kanzleisync
// for every user, the user's own value would only start it twice: it is
// removed, and switching off is refused with the reason.
func (s Switch) Set(on bool) error {
	if s.Machine() {
		if !on {
			return text.New("Der Autostart ist von der IT für alle Benutzer dieses Computers eingeschaltet (Installation mit AUTOSTART=1) und lässt sich nur dort ausschalten.")
		}
		return s.removeUser()
	}
	if !on {
		return s.removeUser()
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("Autostart: %w", err)
	}
	defer k.Close()
	if err := k.SetStringValue(runValue, `"`+s.exe()+`"`); err != nil {
		return text.Errorf("Der Autostart konnte nicht eingeschaltet werden: %w", err)
	}
	return nil
}

// Tidy removes the user's Run value when the machine's starts kanzleisync
// already (a second start at sign-in would bring the Konten window up).
func (s Switch) Tidy() error {
	if !s.Machine() {
		return nil
	}
	return s.removeUser()
}

func (s Switch) removeUser() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return text.Errorf("Der Autostart konnte nicht ausgeschaltet werden: %w", err)
	}
	defer k.Close()
	if err := k.DeleteValue(runValue); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return text.Errorf("Der Autostart konnte nicht ausgeschaltet werden: %w", err)
	}
	return nil
}
