package core

import (
	"kanzleisync/app/text"
	"sort"
	"strconv"
	"strings"

	"kanzleisync/app/export"
	"kanzleisync/app/store"
)

// The Protokoll for a person: the journal's keys in German.

// JournalTitle names an entry's item for a person: its title as exported
// with the kind and number ("Frist: Berufungsbegründung – Frist 12
// (Aufgaben)"), or without a title what JournalItem says.
func JournalTitle(e store.JournalEntry) string {
	if e.Title == "" {
		return JournalItem(e.ItemKey)
	}
	return e.Title + " – " + JournalItem(e.ItemKey)
}

// JournalItem names an entry's item: "Wiedervorlage 9 (Aufgaben)",
// "Postausgang, Nachricht 12", "Nachricht (POP3)".
func JournalItem(key string) string {
	switch {
	case strings.HasPrefix(key, "outbox:"):
		return text.F("Postausgang, Nachricht %s", strings.TrimPrefix(key, "outbox:"))
	case strings.HasPrefix(key, "pop3:"), strings.HasPrefix(key, "graph:"):
		return text.T("eingegangene Nachricht")
	case strings.HasPrefix(key, "list/") || strings.HasPrefix(key, "todo"):
		return text.T("Aufgabenliste")
	}
	return export.ItemLabel(key)
}

var journalActions = map[string]string{"create": text.Mark("angelegt"), "update": text.Mark("geändert"), "delete": text.Mark("gelöscht"),
	"delete-double": text.Mark("Doppel gelöscht"), "rename": text.Mark("umbenannt"), "send": text.Mark("gesendet"),
	"skip": text.Mark("übersprungen"), "adjust": text.Mark("angepasst"), "recreate": text.Mark("neu angelegt"),
	"cancel": text.Mark("abgesagt"), "categories": text.Mark("Kategorien")}

// JournalAction is an entry's action in German.
func JournalAction(a string) string {
	if de, ok := journalActions[a]; ok {
		return text.T(de)
	}
	return a
}

// JournalResult is an entry's result in German.
func JournalResult(r string) string {
	switch r {
	case "ok":
		return "erfolgreich"
	case "error":
		return text.T("Fehler")
	}
	return r
}

// SortJournal orders entries newest first; entries of the same second by
// their item, numbers as numbers (Termin 2 before Termin 15).
func SortJournal(entries []store.JournalEntry) {
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if sa, sb := a.At.Unix(), b.At.Unix(); sa != sb {
			return sa > sb
		}
		return naturalLess(a.ItemKey, b.ItemKey)
	})
}

// naturalLess compares strings with their trailing numbers as numbers.
func naturalLess(a, b string) bool {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if pa != pb {
		return pa < pb
	}
	return na < nb
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}
