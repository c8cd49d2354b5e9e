// Package service runs `kanzleisync serve` as a system service: a Windows
// service (installed and removed with `kanzleisync service install|
// uninstall`), or a systemd unit on Linux (docs/kanzleisync.service).
package service

import (
	"strings"

	"kanzleisync/app/text"
)

// Name is the service's name; DisplayName and Description are what the
// Windows service manager shows.
const (
	Name = "kanzleisync"
	// the service manager keeps these once written: German, the firms' language
	DisplayName = "kanzleisync – Synchronisation mit Microsoft 365"
	Description = "Exportiert Termine, Fristen, Wiedervorlagen und Adressen der Kanzleisoftware nach Microsoft 365 (Servermodus)."
)

// Config is what the service runs: the program with its arguments.
type Config struct {
	Exe     string
	DataDir string
	Listen  string
}

// Args are the service's command line after the program.
func (c Config) Args() []string {
	args := []string{}
	if c.DataDir != "" {
		args = append(args, "-data-dir", c.DataDir)
	}
	args = append(args, "serve")
	if c.Listen != "" {
		args = append(args, "--listen", c.Listen)
	}
	return args
}

// CommandLine is the Windows image path: the program and its arguments,
// each quoted as CommandLineToArgvW reads them.
func (c Config) CommandLine() string {
	parts := []string{quote(c.Exe)}
	for _, a := range c.Args() {
		parts = append(parts, quote(a))
	}
	return strings.Join(parts, " ")
}

// quote follows the rules of CommandLineToArgvW: backslashes are literal
// unless they precede a quote.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, r := range s {
		switch r {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat("\\", 2*slashes+1))
			b.WriteRune('"')
			slashes = 0
			continue
		default:
			b.WriteString(strings.Repeat("\\", slashes))
			slashes = 0
			b.WriteRune(r)
			continue
		}
	}
	b.WriteString(strings.Repeat("\\", 2*slashes))
	b.WriteByte('"')
	return b.String()
}

// ErrUnsupported: no service manager kanzleisync can use here.
type ErrUnsupported struct{ OS string }

func (e ErrUnsupported) Error() string {
	if e.OS == "linux" {
		return text.T("Unter Linux läuft der Server als systemd-Dienst: docs/kanzleisync.service nach /etc/systemd/system/ kopieren, Pfade anpassen und „systemctl enable --now kanzleisync“ ausführen.")
	}
	return text.F("Auf %s gibt es keine Dienstinstallation; „kanzleisync serve“ im Vordergrund starten.", e.OS)
}
