package service

import (
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/eventlog"

	"kanzleisync/app/text"
)

const eventSourceKey = `SYSTEM\CurrentControlSet\Services\EventLog\Application\` + Name

// InstallEventSource registers the source kanzleisync in the Application
// log (EventCreate.exe's message file: the text is the message as written).
// A source that exists already is kept.
func InstallEventSource() error {
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE); err == nil {
		k.Close()
		return nil
	}
	if err := eventlog.InstallAsEventCreate(Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return text.Errorf("Die Ereignisquelle %s ließ sich im Anwendungsprotokoll nicht anlegen: %w", Name, err)
	}
	return nil
}

// RemoveEventSource removes the source; the events written stay in the log.
func RemoveEventSource() error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE)
	if err != nil {
		return nil // never registered
	}
	k.Close()
	if err := eventlog.Remove(Name); err != nil {
		return text.Errorf("Die Ereignisquelle %s ließ sich nicht entfernen: %w", Name, err)
	}
	return nil
}

// EventLog writes to the Application log under the source kanzleisync.
type EventLog struct{ l *eventlog.Log }

// OpenEventLog opens the Application log for the source kanzleisync.
func OpenEventLog() (*EventLog, error) {
	l, err := eventlog.Open(Name)
	if err != nil {
		return nil, text.Errorf("Das Anwendungsprotokoll ist nicht erreichbar: %w", err)
	}
	return &EventLog{l: l}, nil
}

func (e *EventLog) Info(id uint32, msg string) error    { return e.l.Info(id, msg) }
func (e *EventLog) Warning(id uint32, msg string) error { return e.l.Warning(id, msg) }
func (e *EventLog) Error(id uint32, msg string) error   { return e.l.Error(id, msg) }

// Close closes the log.
func (e *EventLog) Close() error { return e.l.Close() }
