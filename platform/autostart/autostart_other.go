//go:build !linux && !windows

package autostart

import "kanzleisync/app/text"
import "errors"

// Enabled: not supported on this system.
func (s Switch) Enabled() bool { return false }

// Set: not supported on this system.
func (s Switch) Set(bool) error {
	return text.New("Autostart wird auf diesem System nicht unterstützt")
}
