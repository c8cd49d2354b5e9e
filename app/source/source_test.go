package source_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"kanzleisync/app/source"
	"kanzleisync/app/testsupport"
)

func generate(t *testing.T, o source.GenOptions) string {
	t.Helper()
	path := filepath.Join(testsupport.TempDir(t), "cache.db")
	if err := source.Generate(context.Background(), path, o); err != nil {
		t.Fatal(err)
	}
	return path
}

func openCache(t *testing.T, path string) *source.Cache {
	t.Helper()
	c, err := source.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func writer(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestGeneratedDemoData(t *testing.T) {
	ctx := context.Background()
	path := generate(t, source.GenOptions{Seed: 7, Appointments: 200, Deadlines: 80, Resubmissions: 40, Addresses: 120, Subscriptions: 30})
	c := openCache(t, path)
	ws, err := c.Workers(ctx)
	if err != nil || len(ws) != 3 || ws[2].Name != "Özlem Yılmaz" {
		t.Fatalf("workers %v %v", ws, err)
	}
	apps, bad, err := c.Appointments(ctx, "AM")
	if err != nil || len(bad) != 0 || len(apps) != 200 {
		t.Fatalf("appointments: %d, bad %v, err %v", len(apps), bad, err)
	}
	var allDay, dst, umlaut int
	fileNo := regexp.MustCompile(`^\d{1,3}/\d\d$`)
	for _, a := range apps {
		if a.AllDay {
			allDay++
			if a.Start.Hour() != 0 || a.End.Hour() != 0 {
				t.Errorf("all-day %d not at midnight: %v–%v", a.ID, a.Start, a.End)
			}
		}
		if d := a.Start.Format("2006-01-02"); d == "2026-03-29" || d == "2026-10-25" {
			dst++
		}
		if strings.ContainsAny(a.Subject+a.Client, "äöüßÄÖÜ") {
			umlaut++
		}
		if !fileNo.MatchString(a.FileNo) {
			t.Errorf("Aktenzeichen %q", a.FileNo)
		}
	}
	if allDay == 0 || dst == 0 || umlaut == 0 {
		t.Errorf("all-day %d, on DST days %d, with umlauts %d: each should occur", allDay, dst, umlaut)
	}
	ds, bad, _ := c.Deadlines(ctx, "")
	if len(ds) != 240 || len(bad) != 0 {
		t.Errorf("deadlines %d bad %v", len(ds), bad)
	}
	rs, _, _ := c.Resubmissions(ctx, "JS")
	if len(rs) != 40 {
		t.Errorf("resubmissions %d", len(rs))
	}
	as, bad, _ := c.SubscribedAddresses(ctx, "AM")
	if len(as) != 30 || len(bad) != 0 || len(as[0].Emails) == 0 {
		t.Errorf("subscribed addresses %d bad %v", len(as), bad)
	}
	// same seed, same file content
	other := generate(t, source.GenOptions{Seed: 7, Appointments: 200, Deadlines: 80, Resubmissions: 40, Addresses: 120, Subscriptions: 30})
	if dump(t, path) != dump(t, other) {
		t.Error("the same seed gave other data")
	}
}

func dump(t *testing.T, path string) string {
	db := writer(t, path)
	h := sha256.New()
	for _, q := range []string{"SELECT * FROM termin", "SELECT * FROM frist", "SELECT * FROM adresse", "SELECT * FROM abo"} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			_ = rows.Scan(ptrs...)
			fmt.Fprintln(h, vals...)
		}
		rows.Close()
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSchemaErrorsNameWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ change, want string }{
		{`DROP TABLE wiedervorlage`, `table "wiedervorlage" is missing`},
		{`ALTER TABLE frist DROP COLUMN vorfrist`, `column "vorfrist" is missing in table "frist"`},
		{`UPDATE schema_info SET version = 4`, `schema version 4, this kanzleisync reads up to 3`},
	} {
		path := generate(t, source.GenOptions{Seed: 1, Appointments: 1})
		if _, err := writer(t, path).Exec(tc.change); err != nil {
			t.Fatal(err)
		}
		_, err := source.Open(ctx, path)
		if !errors.Is(err, source.ErrSchema) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v", tc.change, err)
		}
	}
	if _, err := source.Open(ctx, filepath.Join(testsupport.TempDir(t), "fehlt.db")); err == nil {
		t.Error("a missing file opened")
	}
}

// Caches of schema version 2 (no series columns) and 1 (no
// termin.vertraulich either) are still read, their Termine as one-off and
// not confidential; in version 2 the column is read.
func TestSchemaOneIsStillRead(t *testing.T) {
	ctx := context.Background()
	path := generate(t, source.GenOptions{Seed: 1, Appointments: 4, Confidential: 1, Workers: source.DemoWorkers[:1]})
	read := func() []source.Appointment {
		t.Helper()
		c, err := source.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		as, bad, err := c.Appointments(ctx, "")
		if err != nil || len(bad) != 0 || len(as) != 4 {
			t.Fatalf("%d Termine, %v, %v", len(as), bad, err)
		}
		return as
	}
	var confidential []int64
	for _, a := range read() {
		if a.Confidential {
			confidential = append(confidential, a.ID)
		}
	}
	if len(confidential) != 1 || confidential[0] != 4 {
		t.Errorf("confidential Termine %v, want [4] (the worker's last)", confidential)
	}
	db := writer(t, path)
	// version 2: no series columns
	for _, col := range []string{"serie_regel", "serie_ausfall", "serie_id", "serie_original"} {
		if _, err := db.Exec(`ALTER TABLE termin DROP COLUMN ` + col); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE schema_info SET version = 2`); err != nil {
		t.Fatal(err)
	}
	if n := len(read()); n != 4 {
		t.Errorf("version 2: %d Termine", n)
	}
	for _, q := range []string{`ALTER TABLE termin DROP COLUMN vertraulich`, `UPDATE schema_info SET version = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range read() {
		if a.Confidential {
			t.Errorf("Termin %d of a version-1 cache is confidential", a.ID)
		}
	}
}

func TestReadsWhileThePracticeSoftwareWrites(t *testing.T) {
	ctx := context.Background()
	path := generate(t, source.GenOptions{Seed: 1, Appointments: 10})
	w := writer(t, path)
	tx, err := w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO termin (betreff, beginn, ende, sachbearbeiter_id) VALUES ('Neu', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM')`); err != nil {
		t.Fatal(err)
	}
	c := openCache(t, path)
	apps, _, err := c.Appointments(ctx, "AM")
	if err != nil || len(apps) != 10 {
		t.Fatalf("during an open write transaction: %d, %v", len(apps), err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	apps, _, _ = c.Appointments(ctx, "AM")
	if len(apps) != 11 {
		t.Errorf("after commit: %d", len(apps))
	}
	if _, err := c.Workers(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	c.Close()
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("reading changed the cache file")
	}
}

func TestBadRowsAreReportedAndSkipped(t *testing.T) {
	ctx := context.Background()
	path := generate(t, source.GenOptions{Seed: 1, Appointments: 5, Deadlines: 3})
	w := writer(t, path)
	rows := []struct{ sql, reason string }{
		{`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id) VALUES (9001, 'x', '2026-05-05T11:00:00', '2026-05-05T10:00:00', 'AM')`, "liegt vor dem Beginn"},
		{`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id) VALUES (9002, '  ', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM')`, "Betreff ist leer"},
		{`INSERT INTO termin (id, betreff, beschreibung, beginn, ende, sachbearbeiter_id) VALUES (9003, 'x', '` + strings.Repeat("ä", 1<<19) + `', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM')`, "zu lang (1024 KB"},
		{`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id) VALUES (9004, CAST(X'4B6C61676520E4' AS TEXT), '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'AM')`, "kein UTF-8"},
		{`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id) VALUES (9005, 'x', '2026-05-05T10:00:00', '2026-05-05T11:00:00', 'XX')`, "„XX“ ist unbekannt"},
		{`INSERT INTO termin (id, betreff, beginn, ende, sachbearbeiter_id) VALUES (9006, 'x', '0001-01-01T00:00:00', '0001-01-01T01:00:00', 'AM')`, "außerhalb von 1900"},
		{`INSERT INTO termin (id, betreff, beginn, ende, ganztaegig, sachbearbeiter_id) VALUES (9007, 'x', '2026-05-05T09:00:00', '2026-05-06T00:00:00', 1, 'AM')`, "Mitternacht"},
		{`INSERT INTO frist (id, bezeichnung, fristdatum, sachbearbeiter_id) VALUES (9101, 'x', '31.12.2026', 'AM')`, "kein Datum"},
		{`INSERT INTO frist (id, bezeichnung, fristdatum, vorfrist, sachbearbeiter_id) VALUES (9102, 'x', '2026-12-01', '2026-12-24', 'AM')`, "liegt nach der Frist"},
	}
	for _, r := range rows {
		if _, err := w.Exec(r.sql); err != nil {
			t.Fatalf("%s: %v", r.sql[:60], err)
		}
	}
	c := openCache(t, path)
	apps, badA, err := c.Appointments(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ds, badD, _ := c.Deadlines(ctx, "")
	if len(apps) != 15 || len(ds) != 9 {
		t.Errorf("exportable: %d Termine (want 15), %d Fristen (want 9)", len(apps), len(ds))
	}
	bad := append(badA, badD...)
	if len(bad) != len(rows) {
		t.Fatalf("%d bad rows reported, want %d: %v", len(bad), len(rows), bad)
	}
	for i, r := range rows {
		if !strings.Contains(bad[i].Reason, r.reason) {
			t.Errorf("row %s: reason %q, want it to mention %q", bad[i].ID, bad[i].Reason, r.reason)
		}
	}
}

func TestBadTextIsRepairedOrNamed(t *testing.T) {
	ctx := context.Background()
	path := generate(t, source.GenOptions{Seed: 2, Appointments: 1, Workers: []source.Worker{{ID: "AM", Name: "Anna", UPN: "anna@k.example"}}})
	db := writer(t, path)
	insert := func(id int, subject, desc, begin, end string) {
		t.Helper()
		if _, err := db.Exec(`INSERT INTO termin (id, betreff, beginn, ende, beschreibung, sachbearbeiter_id, geaendert_am) VALUES (?, ?, ?, ?, ?, 'AM', '2026-11-30T10:00:00Z')`,
			id, subject, begin, end, desc); err != nil {
			t.Fatal(err)
		}
	}
	insert(101, "Verhandlung\x00 LG Köln\x07", "Zeile 1\nZeile 2\tmit Tab", "2026-05-04T10:00:00", "2026-05-04T11:00:00")
	insert(102, strings.Repeat("ä", 300), "", "2026-05-04T10:00:00", "2026-05-04T11:00:00")
	insert(103, "Lang", strings.Repeat("x", 120<<10), "2026-05-04T10:00:00", "2026-05-04T11:00:00")
	insert(104, "Nachts", "", "2026-03-29T02:30:00", "2026-03-29T04:00:00")
	c := openCache(t, path)
	apps, bad, err := c.AppointmentsByID(ctx, "AM", []int64{101, 102, 103, 104})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]source.Appointment{}
	for _, a := range apps {
		byID[a.ID] = a
	}
	reasons := map[string]source.RowError{}
	for _, b := range bad {
		reasons[b.ID] = b
	}
	if a := byID[101]; a.Subject != "Verhandlung LG Köln" || a.Description != "Zeile 1\nZeile 2\tmit Tab" {
		t.Errorf("control characters: subject %q, description %q", a.Subject, a.Description)
	}
	if r := reasons["101"]; !r.Adjusted || r.Reason != "Betreff: 2 Steuerzeichen entfernt" {
		t.Errorf("101: %+v", r)
	}
	if r := reasons["102"]; r.Adjusted || r.Reason != "Betreff ist zu lang (300 Zeichen, höchstens 255)" {
		t.Errorf("102: %+v", r)
	}
	if r := reasons["103"]; r.Adjusted || r.Reason != "Beschreibung ist zu lang (120 KB, höchstens 100 KB)" {
		t.Errorf("103: %+v", r)
	}
	a := byID[104]
	if got := a.Start.Format("15:04 MST") + "–" + a.End.Format("15:04 MST"); got != "03:30 CEST–05:00 CEST" {
		t.Errorf("spring gap: %s", got)
	}
	if d := a.End.Sub(a.Start); d != 90*time.Minute {
		t.Errorf("spring gap: duration %v, want 1h30m", d)
	}
	if r := reasons["104"]; !r.Adjusted || !strings.Contains(r.Reason, "Zeitumstellung") || !strings.Contains(r.Reason, "Dauer 1:30 beibehalten") {
		t.Errorf("104: %+v", r)
	}
}
