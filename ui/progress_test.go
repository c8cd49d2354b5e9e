package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"kanzleisync/app/core"
	"kanzleisync/app/export"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/testsupport"
	"kanzleisync/app/text"
)

// While a first export runs, the Synchronisation window shows per kind a
// bar with the items done and to do, and the time left: at the pace so
// far, never faster than Microsoft's budget of one mailbox.
func TestSyncProgress(t *testing.T) {
	f := newFixture(t, setup{})
	running := core.WorkerSync{Worker: anna, Running: true, Started: time.Now().Add(-60 * time.Second),
		Completed: map[string]int{export.Event: 600, export.Contact: 0},
		Total:     map[string]int{export.Event: 12000, export.Task: 0, export.Contact: 3000}}
	f.ui(func() {
		s := f.app.ShowSync()
		f.app.fillSync(s, core.Status{Sync: []core.WorkerSync{running}})
		ev, co := s.Bars[strings.ToLower(anna)+"/"+export.Event], s.Bars[strings.ToLower(anna)+"/"+export.Contact]
		if ev == nil || co == nil || s.Bars[strings.ToLower(anna)+"/"+export.Task] != nil {
			t.Fatalf("bars: %v", s.Bars)
		}
		if ev.Value != 0.05 || ev.TextFormatter() != "600 von 12000" || co.Value != 0 {
			t.Errorf("Kalendereinträge %.3f %q, Kontakte %.3f", ev.Value, ev.TextFormatter(), co.Value)
		}
		// 600 in 60 s is 10 a second, below the budget's 16.7: 14,400 left take 24 minutes
		if !hasLabelPrefix(s.List, "Synchronisation läuft: 600 von 15000 Einträgen, noch etwa 24 Minuten") {
			t.Errorf("no remaining time: %q", screenTexts(s.List))
		}
		// faster than Microsoft allows cannot last: the budget bounds the estimate
		fast := running
		fast.Completed = map[string]int{export.Event: 6000}
		f.app.fillSync(s, core.Status{Sync: []core.WorkerSync{fast}})
		if !hasLabelPrefix(s.List, "Synchronisation läuft: 6000 von 15000 Einträgen, noch etwa 9 Minuten") {
			t.Errorf("the budget does not bound the estimate: %q", screenTexts(s.List))
		}
		text.SetLanguage(text.English)
		defer text.SetLanguage(text.German)
		f.app.fillSync(s, core.Status{Sync: []core.WorkerSync{running}})
		if !hasLabelPrefix(s.List, "Synchronisation running: 600 of 15000 items, about 24 minutes left") || ev.TextFormatter() != "600 of 12000" {
			t.Errorf("English: %q", screenTexts(s.List))
		}
	})
}

func TestApproxDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Second: "weniger als eine Minute", 50 * time.Second: "1 Minute",
		24 * time.Minute: "24 Minuten", 61 * time.Minute: "1 Stunde 1 Minute", 150 * time.Minute: "2 Stunden 30 Minuten"} {
		if got := approxDuration(d); got != want {
			t.Errorf("approxDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// Einstellungen offers the certificate beside the secret and recommends
// it; the administrator makes it with one click: the key goes into the
// keyring, the .cer into the data directory, and the window says where to
// upload it. After the upload the app proves itself with it.
func TestCreateCertificateInSettings(t *testing.T) {
	dir := testsupport.TempDir(t)
	f := newFixture(t, setup{opts: Options{DataDir: dir}})
	var s *SettingsScreen
	f.ui(func() {
		s = f.app.ShowSettings()
		if !strings.HasPrefix(s.CertState.Text, "keins – empfohlen") {
			t.Errorf("before: %q", s.CertState.Text)
		}
	})
	f.unlock(s)
	f.ui(func() { test.Tap(s.CreateCert) })
	cer := filepath.Join(dir, entity+".cer")
	der, err := os.ReadFile(cer)
	if err != nil {
		t.Fatalf("the .cer: %v (window: %q)", err, s.EntityResult.Text)
	}
	f.ui(func() {
		if !strings.HasPrefix(s.CertState.Text, "hinterlegt, gültig bis ") || !strings.Contains(s.EntityResult.Text, cer) || !strings.Contains(s.EntityResult.Text, "Zertifikat hochladen") {
			t.Errorf("after: %q / %q", s.CertState.Text, s.EntityResult.Text)
		}
	})
	if err := f.sim.AddCertificate(m365sim.DemoClientID, der); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mgr.App(entity).TokenContext(f.ctx); err != nil {
		t.Errorf("app token with the new certificate: %v", err)
	}
}
