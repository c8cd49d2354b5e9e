// Package text holds what the German (and English) texts of kanzleisync
// share: numbers with the right plural, and the glossary — one word per
// concept, used by the windows, the command line and the docs alike.
package text

import "fmt"

// N is a count with its noun in the right number: N(1, "Nachricht",
// "Nachrichten") is "1 Nachricht", N(3, …) "3 Nachrichten".
func N(n int, one, many string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Glossary maps a wrong or retired word to the one kanzleisync uses for
// that concept. A test scans the UI, CLI and docs texts for the wrong ones.
var Glossary = map[string]string{
	"Authentifizieren": "Anmelden",
	"Nachricht(en)":    "1 Nachricht / N Nachrichten (text.N)",
	// „Mandant“ is a law firm's client; the Microsoft 365 tenant is the
	// Verzeichnis (its id the Verzeichnis-ID, --tenant on the command line)
	"Mandanten-ID":     "Verzeichnis-ID",
	"Mandant (Tenant)": "Verzeichnis-ID",
}
