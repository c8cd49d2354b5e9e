package autostart

import (
	"errors"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The user's switch beside IT's autostart for every user (the MSI with
// AUTOSTART=1 writes the machine's Run value): shown as on, not switched
// off by the user, and the user's own value — which would start
// kanzleisync twice at sign-in — removed. Run under Wine by .ci/wine-smoke.
func TestMachineAutostartWins(t *testing.T) {
	s := Switch{Exe: `C:\Program Files\kanzleisync\kanzleisync.exe`}
	machine := func(on bool) {
		t.Helper()
		k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, runKey, registry.SET_VALUE)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if on {
			err = k.SetStringValue(runValue, `"`+s.Exe+`"`)
		} else if err = k.DeleteValue(runValue); errors.Is(err, registry.ErrNotExist) {
			err = nil
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	machine(false)
	t.Cleanup(func() { machine(false); _ = s.Set(false) })

	if err := s.Set(true); err != nil || !s.Enabled() || s.Machine() || !hasRun(registry.CURRENT_USER) {
		t.Fatalf("the user's own autostart: %v enabled=%v machine=%v", err, s.Enabled(), s.Machine())
	}
	machine(true)
	if !s.Enabled() || !s.Machine() {
		t.Fatalf("with IT's autostart: enabled=%v machine=%v", s.Enabled(), s.Machine())
	}
	if err := s.Tidy(); err != nil || hasRun(registry.CURRENT_USER) {
		t.Fatalf("Tidy left the user's duplicate (%v)", err)
	}
	if err := s.Set(false); err == nil {
		t.Error("the user switched IT's autostart off")
	}
	if !hasRun(registry.LOCAL_MACHINE) {
		t.Error("the user's switch removed IT's autostart")
	}
	if err := s.Set(true); err != nil || hasRun(registry.CURRENT_USER) {
		t.Errorf("switching on beside IT's autostart wrote a duplicate (%v)", err)
	}
	machine(false)
	if s.Enabled() {
		t.Error("still on after IT's autostart is gone")
	}
}
