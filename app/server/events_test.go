package server

import (
	"testing"
	"time"

	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
)

// A red state becomes one event when it begins, not one per status of the
// cycles that follow; a held mailbox is the held event, not also a failed
// one; a recovery is told once the mailbox's next cycle ends well.
func TestTransitionsTellEachRedStateOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ok := func(at time.Time) core.MailboxHealth { return core.MailboxHealth{UPN: "anna@kanzlei.de", LastRun: at} }
	failed := func(at time.Time, err string) core.MailboxHealth {
		return core.MailboxHealth{UPN: "anna@kanzlei.de", LastRun: at, Error: err}
	}
	held := diagnose.Warning{Key: "held/anna@kanzlei.de/1", Status: diagnose.Red, Title: "Löschungen zurückgehalten", Text: "anna@kanzlei.de: 23 Einträge"}
	expired := diagnose.Warning{Key: "secret/Kanzlei", Status: diagnose.Red, Title: "Geheimer Schlüssel abgelaufen", Text: "…"}
	soon := diagnose.Warning{Key: "secret/Kanzlei/30", Status: diagnose.Yellow, Title: "läuft bald ab"}
	h := func(ws []diagnose.Warning, ms ...core.MailboxHealth) core.Health {
		return core.Health{Mailboxes: ms, Warnings: ws}
	}
	steps := []struct {
		name string
		next core.Health
		want []uint32
	}{
		{"first cycle ok", h(nil, ok(t0)), nil},
		{"a yellow warning is no red state", h([]diagnose.Warning{soon}, ok(t0)), nil},
		{"the cycle fails", h(nil, failed(t0.Add(2*time.Minute), "Cache nicht gefunden")), []uint32{EventMailboxFailed}},
		{"the next cycle fails alike", h(nil, failed(t0.Add(4*time.Minute), "Cache nicht gefunden")), nil},
		{"a running cycle keeps the error", h(nil, core.MailboxHealth{UPN: "anna@kanzlei.de", Running: true, LastRun: t0.Add(4 * time.Minute), Error: "Cache nicht gefunden"}), nil},
		{"it fails otherwise", h(nil, failed(t0.Add(6*time.Minute), "Microsoft 365 antwortet 503")), []uint32{EventMailboxFailed}},
		{"it works again", h(nil, ok(t0.Add(8*time.Minute))), []uint32{EventMailboxOK}},
		{"deletions held", h([]diagnose.Warning{held}, core.MailboxHealth{UPN: "anna@kanzlei.de", LastRun: t0.Add(10 * time.Minute), Error: "23 Löschungen zurückgehalten", Held: 23}), []uint32{EventHeld}},
		{"still held next cycle", h([]diagnose.Warning{held}, core.MailboxHealth{UPN: "anna@kanzlei.de", LastRun: t0.Add(12 * time.Minute), Error: "23 Löschungen zurückgehalten", Held: 23}), nil},
		{"the secret expires too", h([]diagnose.Warning{held, expired}, core.MailboxHealth{UPN: "anna@kanzlei.de", LastRun: t0.Add(12 * time.Minute), Error: "23 Löschungen zurückgehalten", Held: 23}), []uint32{EventRed}},
		{"a new secret", h([]diagnose.Warning{held}, core.MailboxHealth{UPN: "anna@kanzlei.de", LastRun: t0.Add(12 * time.Minute), Error: "23 Löschungen zurückgehalten", Held: 23}), []uint32{EventRedOver}},
		{"deletions released", h(nil, ok(t0.Add(14*time.Minute))), []uint32{EventMailboxOK}},
	}
	var prev core.Health
	for _, st := range steps {
		var got []uint32
		for _, ev := range transitions(prev, st.next) {
			got = append(got, ev.id)
			if ev.msg == "" {
				t.Errorf("%s: event %d without text", st.name, ev.id)
			}
		}
		if len(got) != len(st.want) || (len(got) > 0 && got[0] != st.want[0]) {
			t.Errorf("%s: events %v, want %v", st.name, got, st.want)
		}
		prev = st.next
	}
}
