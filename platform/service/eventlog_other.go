//go:build !windows

package service

import "runtime"

// Outside Windows serve's events go to its log file and the journal of the
// service manager (systemd reads stdout/stderr); there is no event log.

// InstallEventSource: nothing to register here.
func InstallEventSource() error { return nil }

// RemoveEventSource: nothing to remove here.
func RemoveEventSource() error { return nil }

// EventLog is the Windows event log; here it is never opened.
type EventLog struct{}

// OpenEventLog: no event log outside Windows.
func OpenEventLog() (*EventLog, error) { return nil, ErrUnsupported{OS: runtime.GOOS} }

func (e *EventLog) Info(uint32, string) error    { return nil }
func (e *EventLog) Warning(uint32, string) error { return nil }
func (e *EventLog) Error(uint32, string) error   { return nil }

// Close: nothing to close.
func (e *EventLog) Close() error { return nil }
