package config

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"kanzleisync/app/text"
)

// Length limits of the texts kanzleisync stores. Where Microsoft sets one
// it is Microsoft's: a UPN is at most 113 characters (64 before the @),
// a display name in Entra ID 256, a To Do list's or a mail folder's name
// 255; an address is at most 254 (RFC 5321), a host name 253.
const (
	maxEntityName  = 100
	maxUPN         = 113
	maxDisplayName = 256
	maxFolderName  = 255
	maxAddress     = 254
	maxHostName    = 253
	maxURL         = 255
	maxPath        = 1024
)

// checkText adds a German message to v when s is not valid UTF-8, holds a
// control or bidirectional-override character, or is longer than max
// characters. label names the field as a person sees it (text.Mark'ed).
// It reports whether s passed, so that the field's own checks are not
// repeated on a text that is already refused.
func (v *ValidationError) checkText(field, label, s string, max int) bool {
	switch p := textProblem(s); {
	case p == problemEncoding:
		v.add(field, "%s enthält Zeichen, die kein gültiges UTF-8 sind (oft eine Datei, die als ANSI oder Windows-1252 gespeichert wurde). Bitte den Text neu eingeben oder die Datei als UTF-8 speichern.", text.T(label))
	case p > 0:
		v.add(field, "%s enthält an Stelle %d ein unsichtbares Steuerzeichen (z. B. einen Zeilenumbruch oder Tabulator). Bitte nur sichtbare Zeichen eingeben.", text.T(label), p)
	case utf8.RuneCountInString(s) > max:
		v.add(field, "%s darf höchstens %d Zeichen lang sein (eingegeben: %d).", text.T(label), max, utf8.RuneCountInString(s))
	default:
		return true
	}
	return false
}

// problemEncoding: the text is not UTF-8, or was not before a decoder
// replaced its bytes with U+FFFD (encoding/json does that silently).
const problemEncoding = -1

// textProblem is 0 for a clean text, problemEncoding, or the 1-based
// position (in characters) of the first control character.
func textProblem(s string) int {
	if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
		return problemEncoding
	}
	pos := 0
	for _, r := range s {
		pos++
		if unicode.IsControl(r) || isBidiControl(r) {
			return pos
		}
	}
	return 0
}

// isBidiControl: the embedding, override and isolate characters, which
// make a text read differently from what it holds („Trojan Source“).
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}
