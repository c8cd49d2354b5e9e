package core

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
)

// The tray shows the most urgent thing: an error before a running export,
// a running export before a warning.
func TestSummarizeOrder(t *testing.T) {
	red := diagnose.Warning{Status: diagnose.Red, Title: "Bitte erneut anmelden", Text: "Anna"}
	yellow := diagnose.Warning{Status: diagnose.Yellow, Title: "Clientschlüssel läuft bald ab", Text: "in 7 Tagen"}
	running := WorkerSync{Worker: "anna", Running: true}
	failed := WorkerSync{Worker: "jens", Err: "Graph antwortet nicht"}
	badAccount := AccountStatus{Account: config.MailAccount{Address: "a@k.example"}, Dot: diagnose.Red, Detail: "SMTP AUTH aus"}
	for _, c := range []struct {
		st     Status
		want   State
		prefix string
	}{
		{Status{}, OK, "Alles in Ordnung"},
		{Status{Warnings: []diagnose.Warning{yellow}}, Warning, "Clientschlüssel läuft bald ab"},
		{Status{Warnings: []diagnose.Warning{yellow}, Sync: []WorkerSync{running}}, Syncing, "Synchronisation läuft"},
		{Status{Warnings: []diagnose.Warning{yellow}, Sync: []WorkerSync{running}, Accounts: []AccountStatus{badAccount}}, Error, "Mailkonto a@k.example"},
		{Status{Sync: []WorkerSync{running, failed}}, Error, "Synchronisation für jens fehlgeschlagen"},
		{Status{Warnings: []diagnose.Warning{yellow, red}, Sync: []WorkerSync{failed}}, Error, "Bitte erneut anmelden"},
	} {
		got, reason := summarize(c.st)
		if got != c.want || !strings.HasPrefix(reason, c.prefix) {
			t.Errorf("%+v: %d %q, want %d %q…", c.st, got, reason, c.want, c.prefix)
		}
	}
}

// The CSV opens in a German Excel (BOM, semicolons) and a cell from the
// practice software can never run as a formula.
func TestJournalCSV(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	err := WriteJournalCSV(&buf, []store.JournalEntry{
		{At: at, Worker: "anna@k.example", ItemKey: "frist:7", Action: "create", Result: "ok", RequestID: "r-1"},
		{At: at, Worker: "anna@k.example", ItemKey: "=cmd|' /C calc'!A0", Action: "update", Result: "error", Error: "Betreff; mit \"Anführung\""},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "\ufeffZeit;") {
		t.Fatalf("%q", lines)
	}
	if !strings.Contains(lines[2], `'=cmd|' /C calc'!A0`) || !strings.Contains(lines[2], `"Betreff; mit ""Anführung"""`) {
		t.Fatalf("row %q", lines[2])
	}
}

// A Reload that arrives after Close (a window saving settings while the
// application quits) starts nothing.
func TestReloadAfterClose(t *testing.T) {
	st, err := store.Open(filepath.Join(testsupport.TempDir(t), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := New(Options{Store: st, Repo: config.NewRepo(st.DB())})
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err == nil {
		t.Fatal("Start after Close succeeded")
	}
	idle := make(chan struct{})
	go func() { e.done.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("background work still runs after Close and Reload")
	}
}
