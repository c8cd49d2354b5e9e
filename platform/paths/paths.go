// Package paths says where kanzleisync keeps its files on this system.
package paths

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// DataDir is kanzleisync's directory for its database and logs:
// %AppData%\kanzleisync on Windows, ~/Library/Application Support/kanzleisync
// on macOS, $XDG_CONFIG_HOME/kanzleisync (~/.config) on Linux. The
// environment variable KANZLEISYNC_DATA_DIR overrides it.
func DataDir() (string, error) {
	if d := os.Getenv("KANZLEISYNC_DATA_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the data directory: %w", err)
	}
	return filepath.Join(base, "kanzleisync"), nil
}

// Ensure creates dir (only the user may read it) and returns it. A
// directory that exists already open to others (a --data-dir made with
// the usual 0755, or on Windows one whose ACL lets the users read) is made
// private: the state, the journal and the fetched mail are in it. Where
// that fails, a German error says so and nothing is written into it.
func Ensure(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := makePrivate(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// PolicyFile is where IT deploys settings that win over the user's:
// %ProgramData%\kanzleisync\policy.json on Windows, /Library/Application
// Support/kanzleisync/policy.json on macOS, /etc/kanzleisync/policy.json
// elsewhere. KANZLEISYNC_POLICY_FILE overrides it.
func PolicyFile() string {
	if f := os.Getenv("KANZLEISYNC_POLICY_FILE"); f != "" {
		return f
	}
	switch runtime.GOOS {
	case "windows":
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return filepath.Join(base, "kanzleisync", "policy.json")
	case "darwin":
		return "/Library/Application Support/kanzleisync/policy.json"
	}
	return "/etc/kanzleisync/policy.json"
}

// ServiceDataDir is where the service (`kanzleisync serve` run by the
// service manager) keeps its database, logs and credential hand-over:
// %ProgramData%\kanzleisync\server on Windows, /var/lib/kanzleisync
// elsewhere.
func ServiceDataDir() string {
	if runtime.GOOS == "windows" {
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return filepath.Join(base, "kanzleisync", "server")
	}
	return "/var/lib/kanzleisync"
}
