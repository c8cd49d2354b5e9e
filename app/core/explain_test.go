package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/source"
	"kanzleisync/app/testsupport"
)

// englishWords are words of Go's and SQLite's error texts; none may reach a
// person.
var englishWords = []string{"unable", "open ", "database", "missing", "schema", "column", "table ", "locked", "file is", "no such", "cache pfad:", "export ", "the ", "reads up to"}

func assertGerman(t *testing.T, what, text string) {
	t.Helper()
	if text == "" {
		t.Errorf("%s: no text", what)
	}
	for _, w := range englishWords {
		if strings.Contains(strings.ToLower(text), w) {
			t.Errorf("%s: English %q in %q", what, w, text)
		}
	}
	if strings.HasPrefix(text, "Die Anmeldung") {
		t.Errorf("%s: not a sign-in failure: %q", what, text)
	}
}

func cacheFile(t *testing.T, change string) string {
	t.Helper()
	path := filepath.Join(testsupport.TempDir(t), "Kanzlei Cache.db")
	if err := source.Generate(context.Background(), path, source.GenOptions{Seed: 1, Appointments: 1}); err != nil {
		t.Fatal(err)
	}
	if change != "" {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(change); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestCacheFailuresInGerman(t *testing.T) {
	ctx := context.Background()
	source.BusyTimeout = 200 * time.Millisecond
	defer func() { source.BusyTimeout = 10 * time.Second }()

	locked := cacheFile(t, "")
	holder, err := sql.Open("sqlite", "file:"+locked)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	for _, q := range []string{`PRAGMA locking_mode = EXCLUSIVE`, `BEGIN EXCLUSIVE`, `UPDATE termin SET betreff = betreff`} {
		if _, err := holder.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	notDB := filepath.Join(testsupport.TempDir(t), "cache.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("kein SQLite ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
		retry            bool
	}{
		{"missing", filepath.Join(testsupport.TempDir(t), "fehlt.db"), "fehlt", false},
		{"locked", locked, "gesperrt", true},
		{"newer", cacheFile(t, `UPDATE schema_info SET version = 4`), "neuere Version (4)", false},
		{"column", cacheFile(t, `ALTER TABLE frist DROP COLUMN vorfrist`), "die Spalte „vorfrist“", false},
		{"table", cacheFile(t, `DROP TABLE wiedervorlage`), "die Tabelle „wiedervorlage“", false},
		{"not a database", notDB, "keine SQLite-Datenbank", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := source.Open(ctx, tc.path)
			var ce *source.CacheError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CacheError", err)
			}
			// as the export reports it
			text := Explain(fmt.Errorf("export Kanzlei: %w", err), config.Entity{Name: "Kanzlei"}, "")
			if !strings.Contains(text, tc.want) || !strings.Contains(text, tc.path) {
				t.Errorf("%q lacks %q or the path", text, tc.want)
			}
			assertGerman(t, tc.name, strings.ReplaceAll(text, tc.path, "PFAD"))
			if again := strings.Contains(text, "erneut"); again != tc.retry {
				t.Errorf("says to try again: %v, want %v: %q", again, tc.retry, text)
			}
		})
	}
}

func TestFailureClasses(t *testing.T) {
	ent := config.Entity{Name: "Kanzlei"}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no cache path", &export.NoCachePathError{Entity: "Kanzlei"}, "--cache PFAD"},
		{"unknown worker", &export.UnknownWorkerError{UPN: "anna@k.example", Cache: "C:\\Kanzlei\\cache.db"}, "keinen Sachbearbeiter mit dem Microsoft-365-Konto anna@k.example"},
		{"refused settings change", fmt.Errorf("config settings: %w", config.ErrAdminRequired), "Administratorpasswort"},
		{"wrong password", config.ErrWrongAdminPassword, "Administratorpasswort ist falsch"},
		{"held", &export.HeldError{Worker: "anna@k.example", Count: 12, Reason: "Der Cache enthält plötzlich keine Termine mehr (bisher 12 exportiert)."}, "Löschungen ausführen"},
		{"throttled", &graph.Error{Status: 429, Code: "TooManyRequests", Message: "Application is over its MailboxConcurrency limit."}, "vorübergehend"},
		{"forbidden", &graph.Error{Status: 403, Code: "ErrorAccessDenied", Message: "Access is denied."}, "Anbindung testen"},
		{"unexpected", errors.New("sql: transaction has already been committed or rolled back"), "unerwartet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := Explain(tc.err, ent, "anna@k.example")
			if !strings.Contains(text, tc.want) {
				t.Errorf("%q lacks %q", text, tc.want)
			}
			if strings.HasPrefix(text, "Die Anmeldung") || strings.Contains(text, "Bitte erneut versuchen") {
				t.Errorf("%q", text)
			}
			for _, w := range []string{"transaction", "Access is denied", "MailboxConcurrency", "config settings"} {
				if strings.Contains(text, w) {
					t.Errorf("English %q in %q", w, text)
				}
			}
		})
	}
	t.Run("sign-in failures still say Anmeldung", func(t *testing.T) {
		if text := Explain(auth.ErrTimeout, ent, ""); !strings.Contains(text, "Anmeldung") {
			t.Errorf("%q", text)
		}
	})
}
