package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"

	"kanzleisync/app/text"
)

const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// Enabled reports whether kanzleisync starts with the user's session.
func (s Switch) Enabled() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, _, err = k.GetStringValue("kanzleisync")
	return err == nil
}

// Set writes or removes the Run value.
func (s Switch) Set(on bool) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("Autostart: %w", err)
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue("kanzleisync"); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return text.Errorf("Der Autostart konnte nicht ausgeschaltet werden: %w", err)
		}
		return nil
	}
	if err := k.SetStringValue("kanzleisync", `"`+s.exe()+`"`); err != nil {
		return text.Errorf("Der Autostart konnte nicht eingeschaltet werden: %w", err)
	}
	return nil
}
