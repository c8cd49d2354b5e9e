package server

import (
	"strings"

	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/text"
)

// Events is the system's log for what an administrator must see without
// opening /health: the Windows event log (Application, source kanzleisync)
// when serve runs as a service — where the practice software's server logs
// too. nil: none.
type Events interface {
	Info(id uint32, msg string) error
	Warning(id uint32, msg string) error
	Error(id uint32, msg string) error
}

// The event IDs, documented for monitoring in docs/server.md.
const (
	EventStarted       uint32 = 1  // Information: serve runs
	EventStopped       uint32 = 2  // Information: serve stopped
	EventLeaseWon      uint32 = 3  // Information: this server exports
	EventLeaseLost     uint32 = 4  // Warning: the lease was lost, the export stopped
	EventStartFailed   uint32 = 5  // Error: the export could not start
	EventHeld          uint32 = 10 // Warning: deletions held back until an administrator releases them
	EventMailboxFailed uint32 = 20 // Error: a mailbox's synchronisation failed
	EventMailboxOK     uint32 = 21 // Information: the mailbox synchronises again
	EventRed           uint32 = 22 // Error: any other red state (cache missing, expired secret, …)
	EventRedOver       uint32 = 23 // Information: that red state is over
)

type level int

const (
	levelInfo level = iota
	levelWarning
	levelError
)

type event struct {
	level level
	id    uint32
	msg   string
}

func (s *Server) emit(evs ...event) {
	if s.Events == nil {
		return
	}
	for _, ev := range evs {
		var err error
		switch ev.level {
		case levelInfo:
			err = s.Events.Info(ev.id, ev.msg)
		case levelWarning:
			err = s.Events.Warning(ev.id, ev.msg)
		default:
			err = s.Events.Error(ev.id, ev.msg)
		}
		if err != nil {
			s.Logger.Warn("event log", "id", ev.id, "error", err.Error())
		}
	}
}

// transitions are the events between two health reports of the exporting
// server: each red state once when it begins (not on every status of a
// running cycle), and a mailbox's recovery.
func transitions(prev, next core.Health) []event {
	var out []event
	before := map[string]core.MailboxHealth{}
	for _, m := range prev.Mailboxes {
		before[strings.ToLower(m.UPN)] = m
	}
	for _, m := range next.Mailboxes {
		old := before[strings.ToLower(m.UPN)]
		switch {
		case m.Error != "" && m.Held == 0 && m.Error != old.Error:
			out = append(out, event{levelError, EventMailboxFailed, text.F("Synchronisation des Postfachs %s fehlgeschlagen: %s", m.UPN, m.Error)})
		case m.Error == "" && old.Error != "" && m.LastRun.After(old.LastRun):
			out = append(out, event{levelInfo, EventMailboxOK, text.F("Das Postfach %s wird wieder synchronisiert.", m.UPN)})
		}
	}
	red := func(ws []diagnose.Warning) map[string]diagnose.Warning {
		m := map[string]diagnose.Warning{}
		for _, w := range ws {
			if w.Status == diagnose.Red {
				m[w.Key] = w
			}
		}
		return m
	}
	was, is := red(prev.Warnings), red(next.Warnings)
	for _, w := range next.Warnings {
		if _, seen := was[w.Key]; seen || w.Status != diagnose.Red {
			continue
		}
		if strings.HasPrefix(w.Key, "held/") {
			out = append(out, event{levelWarning, EventHeld, w.Title + ": " + w.Text})
		} else {
			out = append(out, event{levelError, EventRed, w.Title + ": " + w.Text})
		}
	}
	for _, w := range prev.Warnings {
		if _, still := is[w.Key]; still || w.Status != diagnose.Red || strings.HasPrefix(w.Key, "held/") {
			continue // held deletions end with their release, which an administrator did
		}
		out = append(out, event{levelInfo, EventRedOver, text.F("Behoben: %s", w.Title+": "+w.Text)})
	}
	return out
}
