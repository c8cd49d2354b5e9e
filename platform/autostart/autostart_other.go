//go:build !linux && !windows

package autostart

import "kanzleisync/app/text"

// Enabled: not supported on this system.
func (s Switch) Enabled() bool { return false }

// Set: not supported on this system.
func (s Switch) Set(bool) error {
	return text.New("Autostart wird auf diesem System nicht unterstützt")
}

// Machine: no machine-wide autostart here.
func (s Switch) Machine() bool { return false }

// Tidy: nothing to tidy here.
func (s Switch) Tidy() error { return nil }
