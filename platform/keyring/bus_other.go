//go:build windows || darwin

package keyring

// sessionBus: Windows Credential Manager and the macOS Keychain need no bus.
func sessionBus() error { return nil }
