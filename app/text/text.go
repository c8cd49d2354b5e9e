// Package text is kanzleisync's one message catalog: every text a person
// reads in the windows, the tray, the command line and the messages of the
// engine goes through it. German is the source language — a message's id is
// its German text, as with gettext — and catalog/en.json holds the English
// of every id (go-i18n, with CLDR plural rules). It also holds the glossary:
// one word per concept, used by the windows, the command line and the docs.
//
// The language is one setting of the process, like the OS locale: the tray
// switches it at once (SetLanguage), the command line takes it from
// KANZLEISYNC_LANG or LANG. Texts are looked up when they are shown: an
// error made by Errorf renders in the language of the moment it is read.
package text

import (
	"embed"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed catalog/en.json
var catalogFiles embed.FS

// The languages kanzleisync speaks.
const (
	German  = "de"
	English = "en"
)

var (
	current atomic.Value // string: German or English
	load    = sync.OnceValue(loadCatalog)
)

type catalog struct {
	bundle     *i18n.Bundle
	localizers map[string]*i18n.Localizer
	english    map[string]*i18n.Message
}

func loadCatalog() *catalog {
	b := i18n.NewBundle(language.German)
	en, err := b.LoadMessageFileFS(catalogFiles, "catalog/en.json")
	if err != nil {
		// the catalog is embedded and tested: a broken file is a build defect
		panic("text: catalog: " + err.Error())
	}
	c := &catalog{bundle: b, localizers: map[string]*i18n.Localizer{}, english: map[string]*i18n.Message{}}
	for _, l := range []string{German, English} {
		c.localizers[l] = i18n.NewLocalizer(b, l)
	}
	for _, m := range en.Messages {
		c.english[m.ID] = m
	}
	return c
}

// SetLanguage switches the language of every text from now on ("de" or
// "en"; anything else is German).
func SetLanguage(lang string) { current.Store(normalize(lang)) }

// Language is the language texts are shown in now.
func Language() string {
	if l, ok := current.Load().(string); ok {
		return l
	}
	return German
}

// FromEnvironment picks the command line's language: KANZLEISYNC_LANG, else
// LANG/LC_ALL when they name English. German otherwise — the firms are German.
func FromEnvironment() string {
	if l := os.Getenv("KANZLEISYNC_LANG"); l != "" {
		return normalize(l)
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if l := os.Getenv(v); l != "" {
			return normalize(l)
		}
	}
	return German
}

func normalize(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return English
	}
	return German
}

// T is the text of id (its German text) in the current language.
func T(id string) string { return in(Language(), id) }

// In is the text of id in lang.
func In(lang, id string) string { return in(normalize(lang), id) }

func in(lang, id string) string {
	if lang == German || id == "" {
		return id
	}
	s, err := load().localizers[lang].Localize(&i18n.LocalizeConfig{MessageID: id})
	if err != nil {
		return id // a missing text shows German; TestCatalog keeps the list complete
	}
	return s
}

// Mark returns id unchanged: it marks a text that is translated later,
// where it is shown (a choice of a list, a label in a table).
func Mark(id string) string { return id }

// F formats the text of format in the current language (fmt.Sprintf).
func F(format string, args ...any) string { return fmt.Sprintf(T(format), args...) }

// N is a count with its noun in the right number: N(1, "Nachricht",
// "Nachrichten") is "1 Nachricht", N(3, …) "3 Nachrichten", in English
// "1 message", "3 messages" (the catalog's plural forms of the id many).
func N(n int, one, many string) string { return fmt.Sprintf("%d %s", n, Noun(n, one, many)) }

// Nf is a whole sentence about a count, in the right number: Nf(3, "%d
// Aufgabe anlegen", "%d Aufgaben anlegen") is "3 Aufgaben anlegen", in
// English "create 3 tasks" (the catalog's plural forms of the id many).
func Nf(n int, one, many string) string { return fmt.Sprintf(Noun(n, one, many), n) }

// Noun is the noun of N without the number.
func Noun(n int, one, many string) string {
	if Language() == German {
		if n == 1 || n == -1 {
			return one
		}
		return many
	}
	s, err := load().localizers[Language()].Localize(&i18n.LocalizeConfig{
		DefaultMessage: &i18n.Message{ID: many, One: one, Other: many}, PluralCount: n})
	if err != nil {
		return many
	}
	return s
}

// Error is an error whose message is a catalog text, rendered when it is
// read: after a language switch it reads in the new language.
type Error struct {
	format string
	args   []any
}

// Errorf is fmt.Errorf with a catalog text: %w wraps as in fmt.Errorf.
func Errorf(format string, args ...any) error {
	e := &Error{format: format, args: args}
	var wrapped []error
	if strings.Contains(format, "%w") {
		for _, a := range args {
			if err, ok := a.(error); ok {
				wrapped = append(wrapped, err)
			}
		}
	}
	switch len(wrapped) {
	case 0:
		return e
	case 1:
		return &wrapError{e, wrapped[0]}
	}
	return &wrapErrors{e, wrapped}
}

// New is errors.New with a catalog text.
func New(msg string) error { return &Error{format: msg} }

func (e *Error) Error() string {
	if len(e.args) == 0 {
		return T(e.format)
	}
	return fmt.Errorf(T(e.format), e.args...).Error()
}

// wrapError and wrapErrors unwrap like fmt.Errorf's errors with one or
// several %w: errors.Is/As see through them, a joined error's reader
// (Unwrap() []error) only where there are several.
type wrapError struct {
	msg *Error
	err error
}

func (e *wrapError) Error() string { return e.msg.Error() }

func (e *wrapError) Unwrap() error { return e.err }

type wrapErrors struct {
	msg  *Error
	errs []error
}

func (e *wrapErrors) Error() string { return e.msg.Error() }

func (e *wrapErrors) Unwrap() []error { return e.errs }

// EnglishOf is the catalog's English text of id — its singular and plural
// forms, one empty for a text without plural — and whether there is one
// (for the tests that keep the catalog complete).
func EnglishOf(id string) (one, other string, ok bool) {
	m, ok := load().english[id]
	if !ok {
		return "", "", false
	}
	return m.One, m.Other, true
}

// IDs lists every id the English catalog has.
func IDs() []string {
	ids := make([]string, 0, len(load().english))
	for id := range load().english {
		ids = append(ids, id)
	}
	return ids
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
	// the export is the Synchronisation (menu „Jetzt synchronisieren“,
	// window „Synchronisation“)
	"Abgleich": "Synchronisation",
	// „Protokoll“ is the window of transferred items; the technical log is
	// the Protokolldatei kanzleisync.log, the transfer log the
	// Übertragungsprotokoll
	"Protokoll (kanzleisync.log)": "Protokolldatei kanzleisync.log",
	"Protokoll kanzleisync.log":   "Protokolldatei kanzleisync.log",
	"Löschung(en)":                "text.N(n, \"Löschung\", \"Löschungen\")",
}
