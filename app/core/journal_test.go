package core

import (
	"testing"
	"time"

	"kanzleisync/app/store"
)

// The Protokoll sorts newest first, and within one moment by item with
// numbers as numbers; its words are German.
func TestJournalOrderAndWords(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var es []store.JournalEntry
	for _, k := range []string{"task/wiedervorlage:15", "task/wiedervorlage:2", "task/wiedervorlage:9", "event/termin:10"} {
		es = append(es, store.JournalEntry{At: at, ItemKey: k, Action: "create", Result: "ok"})
	}
	es = append(es, store.JournalEntry{At: at.Add(time.Minute), ItemKey: "outbox:3", Action: "send", Result: "error"})
	SortJournal(es)
	var got []string
	for _, e := range es {
		got = append(got, JournalItem(e.ItemKey))
	}
	want := []string{"Postausgang, Nachricht 3", "Termin 10 (Kalender)", "Wiedervorlage 2 (Aufgaben)", "Wiedervorlage 9 (Aufgaben)", "Wiedervorlage 15 (Aufgaben)"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %q, want %q", got, want)
		}
	}
	if JournalAction("create") != "angelegt" || JournalAction("send") != "gesendet" || JournalResult("ok") != "erfolgreich" || JournalResult("error") != "Fehler" {
		t.Error("actions or results not in German")
	}
}
