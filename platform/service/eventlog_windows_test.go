package service

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The event source as `service install` registers it and serve writes to
// it (run under Wine by .ci/wine-smoke; Wine keeps no readable event log,
// so what is checked is the registration and that each level is accepted).
func TestEventLogSource(t *testing.T) {
	registered := func() bool {
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE)
		if err != nil {
			return false
		}
		defer k.Close()
		file, _, err := k.GetStringValue("EventMessageFile")
		return err == nil && file != ""
	}
	if err := RemoveEventSource(); err != nil { // a leftover of an earlier run
		t.Fatal(err)
	}
	if err := InstallEventSource(); err != nil {
		t.Fatal(err)
	}
	if !registered() {
		t.Fatalf("no event source under HKLM\\%s", eventSourceKey)
	}
	if err := InstallEventSource(); err != nil {
		t.Fatalf("a second install (a reinstall of the service): %v", err)
	}
	l, err := OpenEventLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, write := range []func(uint32, string) error{l.Info, l.Warning, l.Error} {
		if err := write(1, "kanzleisync serve läuft (Test)"); err != nil {
			t.Errorf("write: %v", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if err := RemoveEventSource(); err != nil {
		t.Fatal(err)
	}
	if registered() {
		t.Error("the event source stayed after RemoveEventSource")
	}
	if err := RemoveEventSource(); err != nil {
		t.Errorf("removing an absent source: %v", err)
	}
}
