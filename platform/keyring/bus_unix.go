//go:build !windows && !darwin

package keyring

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// runtimeDirs are where a user's session bus socket lives: $XDG_RUNTIME_DIR
// and /run/user/UID (where godbus looks too). A variable for the tests.
var runtimeDirs = func() []string {
	dirs := []string{}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	return append(dirs, filepath.Join("/run/user", strconv.Itoa(os.Getuid())))
}

// sessionBus makes sure the Secret Service is asked over a session bus
// that exists. Without DBUS_SESSION_BUS_ADDRESS and a user bus, godbus
// would run dbus-launch --autolaunch: a new dbus-daemon with no keyring in
// it, which hangs the call and stays behind after kanzleisync ends.
func sessionBus() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	for _, dir := range runtimeDirs() {
		bus := filepath.Join(dir, "bus")
		if fi, err := os.Stat(bus); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return os.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+escapeBusValue(bus))
		}
	}
	return fmt.Errorf("%w (DBUS_SESSION_BUS_ADDRESS is not set and there is no user bus in the runtime directory)", ErrNoSessionBus)
}

// escapeBusValue escapes a D-Bus address value: bytes outside
// [-0-9A-Za-z_/.\*] as %XX (D-Bus specification, „Server Addresses“).
func escapeBusValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' || c == '/' || c == '.' || c == '\\' || c == '*' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
		}
	}
	return b.String()
}
