package source

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"kanzleisync/app/text"
)

// Worker is a case worker as the practice software knows them.
type Worker struct {
	ID, Name, UPN string
}

// Appointment is a Termin. Start and End are in Europe/Berlin; an all-day
// Termin starts at midnight and ends at midnight after its last day.
type Appointment struct {
	ID              int64
	Subject         string
	Location        string
	Start, End      time.Time
	AllDay          bool
	Description     string
	FileNo          string // Aktenzeichen
	Client          string // Mandant
	WorkerID        string
	Category        string
	ReminderMinutes *int
	Modified        time.Time
	// Confidential: the practice software marks the Termin vertraulich;
	// only a neutral text leaves the firm (schema 2; older caches: false).
	Confidential bool
	// Rule makes the Termin a series whose first occurrence is Start–End;
	// Cancelled are its cancelled occurrence days (schema 3).
	Rule      *Rule
	Cancelled []Date
	// SeriesID, with OriginalStart, makes the Termin a changed occurrence
	// of the series in row SeriesID (schema 3).
	SeriesID      int64
	OriginalStart time.Time
}

// Date is a calendar day without a time (Fristdatum, Wiedervorlage).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Midnight is the start of the day in loc.
func (d Date) Midnight(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Deadline is a Frist, with an optional Vorfrist (early warning day).
type Deadline struct {
	ID           int64
	FileNo       string
	Title        string
	Due          Date
	EarlyWarning *Date
	Done         bool
	WorkerID     string
	Modified     time.Time
}

// Resubmission is a Wiedervorlage.
type Resubmission struct {
	ID       int64
	FileNo   string
	Reason   string
	Date     Date
	Done     bool
	WorkerID string
	Modified time.Time
}

// Address is an Adresse.
type Address struct {
	ID                          int64
	Salutation, Title           string
	GivenName, Surname, Company string
	Emails                      []string
	BusinessPhone, HomePhone    string
	Mobile                      string
	Street, PostalCode, City    string
	Country, Note               string
	Modified                    time.Time
}

// RowError is a cache row that cannot be exported, with the reason — or,
// with Adjusted, a row that is exported after a repair the journal must
// name (control characters removed, a time in the spring gap moved).
type RowError struct {
	Table    string
	ID       string
	Reason   string // German, for the journal
	Adjusted bool
}

func (e RowError) Error() string { return fmt.Sprintf("%s %s: %s", e.Table, e.ID, e.Reason) }

// Limits of what is exported.
const (
	MaxText      = 100 << 10 // a description or note longer than this is refused
	MaxSubject   = 255
	earliestYear = 1900
	latestYear   = 2200
	localLayout  = "2006-01-02T15:04:05"
	dateLayout   = "2006-01-02"
)

// Workers lists the case workers.
func (c *Cache) Workers(ctx context.Context) ([]Worker, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, name, upn FROM sachbearbeiter ORDER BY id`)
	if err != nil {
		return nil, c.classify(fmt.Errorf("read sachbearbeiter: %w", err))
	}
	defer rows.Close()
	var out []Worker
	for rows.Next() {
		var w Worker
		if err := rows.Scan(&w.ID, &w.Name, &w.UPN); err != nil {
			return nil, c.classify(fmt.Errorf("read sachbearbeiter: %w", err))
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// checker collects the problems of one row, and the repairs made to it.
type checker struct {
	table, id string
	problems  []string
	notes     []string
}

// text checks a text field. Control characters other than tab and line
// breaks are removed: Exchange keeps item text as XML 1.0, which cannot
// hold them (a NUL byte cuts a subject short in some clients or makes the
// request fail), and a person cannot see them anyway. Limits count
// characters for short fields (Outlook: 255 for a subject) and bytes for
// long ones.
func (k *checker) text(field, v string, max int, required bool) string {
	if !utf8.ValidString(v) {
		k.problems = append(k.problems, text.F("%s enthält ungültige Zeichen (kein UTF-8)", field))
		return v
	}
	if clean, n := stripControls(v); n > 0 {
		k.notes = append(k.notes, fmt.Sprintf("%s: %d Steuerzeichen entfernt", field, n))
		v = clean
	}
	switch {
	case required && strings.TrimSpace(v) == "":
		k.problems = append(k.problems, text.F("%s ist leer", field))
	case max < 4096 && utf8.RuneCountInString(v) > max:
		k.problems = append(k.problems, text.F("%s ist zu lang (%d Zeichen, höchstens %d)", field, utf8.RuneCountInString(v), max))
	case max >= 4096 && len(v) > max:
		k.problems = append(k.problems, text.F("%s ist zu lang (%s, höchstens %s)", field, kb(len(v)), kb(max)))
	}
	return v
}

// kb is a size in KB for a person: 100 KB, 120,5 KB.
func kb(n int) string {
	s := strconv.FormatFloat(float64(n)/1024, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return strings.Replace(s, ".", ",", 1) + " KB"
}

// stripControls removes C0 control characters except tab, LF and CR, and DEL.
func stripControls(s string) (string, int) {
	n := 0
	out := strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			n++
			return -1
		}
		return r
	}, s)
	return out, n
}

func (k *checker) local(field string, v sql.NullString) time.Time {
	if !v.Valid || v.String == "" {
		k.problems = append(k.problems, text.F("%s fehlt", field))
		return time.Time{}
	}
	t, err := time.ParseInLocation(localLayout, v.String, Berlin)
	if err != nil {
		k.problems = append(k.problems, text.F("%s „%s“ ist kein Zeitpunkt (erwartet JJJJ-MM-TTThh:mm:ss)", field, v.String))
		return time.Time{}
	}
	if t.Year() < earliestYear || t.Year() > latestYear {
		k.problems = append(k.problems, text.F("%s %s liegt außerhalb von %d bis %d", field, v.String, earliestYear, latestYear))
	}
	return t
}

// springGap keeps the duration of a Termin that begins in the hour the
// clocks skip in spring (02:00–03:00 on the last Sunday of March does not
// exist in Europe/Berlin): Go reads 02:30 as 03:30 summer time (the same
// instant as 02:30 winter time), and an end of 04:00 would shrink 1:30 to
// 0:30. The end moves with the beginning, and the journal says so.
func (k *checker) springGap(rawBegin, rawEnd string, start, end time.Time) (time.Time, time.Time) {
	startMoved := start.Format(localLayout) != rawBegin
	endMoved := end.Format(localLayout) != rawEnd
	if !startMoved && !endMoved {
		return start, end
	}
	b, err1 := time.Parse(localLayout, rawBegin)
	e, err2 := time.Parse(localLayout, rawEnd)
	if err1 != nil || err2 != nil {
		return start, end
	}
	wall := e.Sub(b) // the duration as written, on the wall clock
	if startMoved {
		end = start.Add(wall)
	}
	k.notes = append(k.notes, text.F("%s–%s fällt in die Zeitumstellung (%s, 02:00 bis 03:00 gibt es nicht): als %s–%s übertragen, Dauer %d:%02d beibehalten",
		b.Format("15:04"), e.Format("15:04"), b.Format("02.01.2006"), start.Format("15:04"), end.Format("15:04"), int(wall.Hours()), int(wall.Minutes())%60))
	return start, end
}

func (k *checker) date(field string, v sql.NullString, required bool) *Date {
	if !v.Valid || v.String == "" {
		if required {
			k.problems = append(k.problems, text.F("%s fehlt", field))
		}
		return nil
	}
	t, err := time.Parse(dateLayout, v.String)
	if err != nil {
		k.problems = append(k.problems, text.F("%s „%s“ ist kein Datum (erwartet JJJJ-MM-TT)", field, v.String))
		return nil
	}
	if t.Year() < earliestYear || t.Year() > latestYear {
		k.problems = append(k.problems, text.F("%s %s liegt außerhalb von %d bis %d", field, v.String, earliestYear, latestYear))
		return nil
	}
	return &Date{t.Year(), t.Month(), t.Day()}
}

func (k *checker) worker(id string, known map[string]bool) string {
	if !known[id] {
		k.problems = append(k.problems, text.F("Sachbearbeiter „%s“ ist unbekannt", id))
	}
	return id
}

func (k *checker) err() *RowError {
	if len(k.problems) == 0 {
		return nil
	}
	return &RowError{Table: k.table, ID: k.id, Reason: strings.Join(k.problems, "; ")}
}

// note is the repairs of an exported row, nil when there were none.
func (k *checker) note() *RowError {
	if len(k.notes) == 0 {
		return nil
	}
	return &RowError{Table: k.table, ID: k.id, Reason: strings.Join(k.notes, "; "), Adjusted: true}
}

func modified(v sql.NullString) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, v.String)
	return t
}

func (c *Cache) knownWorkers(ctx context.Context) (map[string]bool, error) {
	ws, err := c.Workers(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, w := range ws {
		known[w.ID] = true
	}
	return known, nil
}

func ns(s sql.NullString) string { return s.String }

// Appointments reads the Termine of one worker ("" for all); rows that
// cannot be exported come back as RowErrors.
func (c *Cache) Appointments(ctx context.Context, workerID string) ([]Appointment, []RowError, error) {
	return c.AppointmentsByID(ctx, workerID, nil)
}

// AppointmentsByID reads the Termine with the given ids (nil: all).
func (c *Cache) AppointmentsByID(ctx context.Context, workerID string, ids []int64) ([]Appointment, []RowError, error) {
	known, err := c.knownWorkers(ctx)
	if err != nil {
		return nil, nil, err
	}
	return readRows(ctx, c, `SELECT id, betreff, ort, beginn, ende, ganztaegig, beschreibung, aktenzeichen, mandant,
		sachbearbeiter_id, kategorie, erinnerung_min, geaendert_am, `+c.confidential()+`,
		`+c.column("termin", "serie_regel", "NULL")+`, `+c.column("termin", "serie_ausfall", "NULL")+`, `+c.column("termin", "serie_id", "NULL")+`,
		`+c.column("termin", "serie_original", "NULL")+` FROM termin WHERE (?1 = '' OR sachbearbeiter_id = ?2`+c.participantClause("id", "?2")+`)`, workerID, ids, func(rows *sql.Rows) (Appointment, *checker, error) {
		var a Appointment
		var subj, loc, begin, end, desc, file, client, worker, cat, mod sql.NullString
		var reminder sql.NullInt64
		var allDay int
		var confidential, seriesID sql.NullInt64
		var rule, cancelled, original sql.NullString
		if err := rows.Scan(&a.ID, &subj, &loc, &begin, &end, &allDay, &desc, &file, &client, &worker, &cat, &reminder, &mod, &confidential,
			&rule, &cancelled, &seriesID, &original); err != nil {
			return a, nil, fmt.Errorf("read termin: %w", err)
		}
		k := &checker{table: "termin", id: fmt.Sprint(a.ID)}
		a.Subject = k.text("Betreff", ns(subj), MaxSubject, true)
		a.Location = k.text("Ort", ns(loc), MaxSubject, false)
		a.Description = k.text("Beschreibung", ns(desc), MaxText, false)
		a.FileNo = k.text("Aktenzeichen", ns(file), MaxSubject, false)
		a.Client = k.text("Mandant", ns(client), MaxSubject, false)
		a.Category = k.text("Kategorie", ns(cat), MaxSubject, false)
		a.WorkerID = k.worker(ns(worker), known)
		a.AllDay = allDay != 0
		a.Confidential = confidential.Int64 != 0
		a.Start, a.End = k.local("Beginn", begin), k.local("Ende", end)
		if len(k.problems) == 0 {
			a.Start, a.End = k.springGap(begin.String, end.String, a.Start, a.End)
		}
		if len(k.problems) == 0 {
			switch {
			case a.End.Before(a.Start):
				k.problems = append(k.problems, text.F("Ende %s liegt vor dem Beginn %s", a.End.Format(localLayout), a.Start.Format(localLayout)))
			case a.AllDay && (!isMidnight(a.Start) || !isMidnight(a.End) || !a.End.After(a.Start)):
				k.problems = append(k.problems, text.T("ganztägiger Termin beginnt oder endet nicht um Mitternacht"))
			}
		}
		if len(k.problems) == 0 {
			k.series(&a, rule, cancelled, seriesID, original)
		}
		if reminder.Valid {
			m := int(reminder.Int64)
			if m < 0 || m > 4*7*24*60 {
				k.problems = append(k.problems, text.F("Erinnerung %d Minuten liegt außerhalb von 0 bis 4 Wochen", m))
			}
			a.ReminderMinutes = &m
		}
		a.Modified = modified(mod)
		return a, k, nil
	})
}

func isMidnight(t time.Time) bool { return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 }

// Deadlines reads the Fristen of one worker ("" for all).
func (c *Cache) Deadlines(ctx context.Context, workerID string) ([]Deadline, []RowError, error) {
	return c.DeadlinesByID(ctx, workerID, nil)
}

// DeadlinesByID reads the Fristen with the given ids (nil: all).
func (c *Cache) DeadlinesByID(ctx context.Context, workerID string, ids []int64) ([]Deadline, []RowError, error) {
	known, err := c.knownWorkers(ctx)
	if err != nil {
		return nil, nil, err
	}
	return readRows(ctx, c, `SELECT id, aktenzeichen, bezeichnung, fristdatum, vorfrist, erledigt, sachbearbeiter_id, geaendert_am
		FROM frist WHERE (? = '' OR sachbearbeiter_id = ?)`, workerID, ids, func(rows *sql.Rows) (Deadline, *checker, error) {
		var d Deadline
		var file, title, due, early, worker, mod sql.NullString
		var done int
		if err := rows.Scan(&d.ID, &file, &title, &due, &early, &done, &worker, &mod); err != nil {
			return d, nil, fmt.Errorf("read frist: %w", err)
		}
		k := &checker{table: "frist", id: fmt.Sprint(d.ID)}
		d.FileNo = k.text("Aktenzeichen", ns(file), MaxSubject, false)
		d.Title = k.text("Bezeichnung", ns(title), MaxSubject, true)
		d.WorkerID = k.worker(ns(worker), known)
		if p := k.date("Fristdatum", due, true); p != nil {
			d.Due = *p
		}
		d.EarlyWarning = k.date("Vorfrist", early, false)
		if d.EarlyWarning != nil && d.Due != (Date{}) && d.EarlyWarning.String() > d.Due.String() {
			k.problems = append(k.problems, text.F("Vorfrist %s liegt nach der Frist %s", d.EarlyWarning, d.Due))
		}
		d.Done = done != 0
		d.Modified = modified(mod)
		return d, k, nil
	})
}

// Resubmissions reads the Wiedervorlagen of one worker ("" for all).
func (c *Cache) Resubmissions(ctx context.Context, workerID string) ([]Resubmission, []RowError, error) {
	return c.ResubmissionsByID(ctx, workerID, nil)
}

// ResubmissionsByID reads the Wiedervorlagen with the given ids (nil: all).
func (c *Cache) ResubmissionsByID(ctx context.Context, workerID string, ids []int64) ([]Resubmission, []RowError, error) {
	known, err := c.knownWorkers(ctx)
	if err != nil {
		return nil, nil, err
	}
	return readRows(ctx, c, `SELECT id, aktenzeichen, grund, datum, erledigt, sachbearbeiter_id, geaendert_am
		FROM wiedervorlage WHERE (? = '' OR sachbearbeiter_id = ?)`, workerID, ids, func(rows *sql.Rows) (Resubmission, *checker, error) {
		var r Resubmission
		var file, reason, date, worker, mod sql.NullString
		var done int
		if err := rows.Scan(&r.ID, &file, &reason, &date, &done, &worker, &mod); err != nil {
			return r, nil, fmt.Errorf("read wiedervorlage: %w", err)
		}
		k := &checker{table: "wiedervorlage", id: fmt.Sprint(r.ID)}
		r.FileNo = k.text("Aktenzeichen", ns(file), MaxSubject, false)
		r.Reason = k.text("Grund", ns(reason), MaxSubject, true)
		r.WorkerID = k.worker(ns(worker), known)
		if p := k.date("Datum", date, true); p != nil {
			r.Date = *p
		}
		r.Done = done != 0
		r.Modified = modified(mod)
		return r, k, nil
	})
}

// SubscribedAddresses reads the Adressen a worker subscribed to.
func (c *Cache) SubscribedAddresses(ctx context.Context, workerID string) ([]Address, []RowError, error) {
	return c.SubscribedAddressesByID(ctx, workerID, nil)
}

// SubscribedAddressesByID reads the subscribed Adressen with the given ids (nil: all).
func (c *Cache) SubscribedAddressesByID(ctx context.Context, workerID string, ids []int64) ([]Address, []RowError, error) {
	return readRows(ctx, c, `SELECT a.id, a.anrede, a.titel, a.vorname, a.nachname, a.firma, a.email1, a.email2, a.email3,
		a.telefon_geschaeftlich, a.telefon_privat, a.mobil, a.strasse, a.plz, a.ort, a.land, a.notiz, a.geaendert_am
		FROM adresse a JOIN abo ON abo.adresse_id = a.id WHERE (abo.sachbearbeiter_id = ? OR abo.sachbearbeiter_id = ?)`, workerID, ids, func(rows *sql.Rows) (Address, *checker, error) {
		var a Address
		var f [17]sql.NullString
		if err := rows.Scan(&a.ID, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12], &f[13], &f[14], &f[15], &f[16]); err != nil {
			return a, nil, fmt.Errorf("read adresse: %w", err)
		}
		k := &checker{table: "adresse", id: fmt.Sprint(a.ID)}
		a.Salutation = k.text("Anrede", ns(f[0]), MaxSubject, false)
		a.Title = k.text("Titel", ns(f[1]), MaxSubject, false)
		a.GivenName = k.text("Vorname", ns(f[2]), MaxSubject, false)
		a.Surname = k.text("Nachname", ns(f[3]), MaxSubject, false)
		a.Company = k.text("Firma", ns(f[4]), MaxSubject, false)
		for i, name := range []string{"E-Mail 1", "E-Mail 2", "E-Mail 3"} {
			if v := k.text(name, ns(f[5+i]), MaxSubject, false); strings.TrimSpace(v) != "" {
				a.Emails = append(a.Emails, strings.TrimSpace(v))
			}
		}
		a.BusinessPhone = k.text(text.T("Telefon geschäftlich"), ns(f[8]), MaxSubject, false)
		a.HomePhone = k.text("Telefon privat", ns(f[9]), MaxSubject, false)
		a.Mobile = k.text("Mobil", ns(f[10]), MaxSubject, false)
		a.Street = k.text(text.T("Straße"), ns(f[11]), MaxSubject, false)
		a.PostalCode = k.text("PLZ", ns(f[12]), MaxSubject, false)
		a.City = k.text("Ort", ns(f[13]), MaxSubject, false)
		a.Country = k.text("Land", ns(f[14]), MaxSubject, false)
		a.Note = k.text("Notiz", ns(f[15]), MaxText, false)
		a.Modified = modified(f[16])
		if strings.TrimSpace(a.Surname+a.GivenName+a.Company) == "" {
			k.problems = append(k.problems, text.T("weder Name noch Firma"))
		}
		return a, k, nil
	})
}

// readRows reads the rows of query (see eachRow) into Ts with scan; a row
// whose checker found problems becomes a RowError instead.
func readRows[T any](ctx context.Context, c *Cache, query, workerID string, ids []int64, scan func(*sql.Rows) (T, *checker, error)) ([]T, []RowError, error) {
	var out []T
	var bad []RowError
	err := c.eachRow(ctx, query, workerID, ids, func(rows *sql.Rows) error {
		v, k, err := scan(rows)
		if err != nil {
			return err
		}
		if e := k.err(); e != nil {
			bad = append(bad, *e)
			return nil
		}
		if n := k.note(); n != nil {
			bad = append(bad, *n)
		}
		out = append(out, v)
		return nil
	})
	return out, bad, err
}

// eachRow runs query (whose WHERE takes workerID twice) for all rows, or
// for the given ids in chunks, in id order.
func (c *Cache) eachRow(ctx context.Context, query, workerID string, ids []int64, fn func(*sql.Rows) error) error {
	idCol := "id"
	if strings.Contains(query, "FROM adresse a") {
		idCol = "a.id"
	}
	run := func(q string, args ...any) error {
		rows, err := c.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if ids == nil {
		return c.classify(run(query+" ORDER BY "+idCol, workerID, workerID))
	}
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := []any{workerID, workerID}
		marks := make([]string, len(part))
		for i, id := range part {
			marks[i] = "?"
			args = append(args, id)
		}
		if err := run(query+" AND "+idCol+" IN ("+strings.Join(marks, ",")+") ORDER BY "+idCol, args...); err != nil {
			return c.classify(err)
		}
	}
	return nil
}

// Stamps returns, for one worker's rows of a table (termin, frist,
// wiedervorlage, or adresse for the subscribed ones), id → geaendert_am.
// It reads two columns only: the quick first pass of a cycle.
func (c *Cache) Stamps(ctx context.Context, table, workerID string) (map[int64]time.Time, error) {
	var q string
	switch table {
	case "termin":
		q = `SELECT id, geaendert_am FROM termin WHERE sachbearbeiter_id = ?1` + c.participantClause("id", "?1")
	case "frist", "wiedervorlage":
		q = `SELECT id, geaendert_am FROM ` + table + ` WHERE sachbearbeiter_id = ?`
	case "adresse":
		q = `SELECT a.id, a.geaendert_am FROM adresse a JOIN abo ON abo.adresse_id = a.id WHERE abo.sachbearbeiter_id = ?`
	default:
		return nil, fmt.Errorf("stamps: unknown table %q", table)
	}
	rows, err := c.db.QueryContext(ctx, q, workerID)
	if err != nil {
		return nil, c.classify(fmt.Errorf("read %s: %w", table, err))
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var id int64
		var mod sql.NullString
		if err := rows.Scan(&id, &mod); err != nil {
			return nil, c.classify(fmt.Errorf("read %s: %w", table, err))
		}
		out[id] = modified(mod)
	}
	return out, rows.Err()
}

// confidential is the Termin's vertraulich in a SELECT; a changed
// occurrence is confidential when its series is (§ 203 StGB: the practice
// software may mark only the series).
func (c *Cache) confidential() string {
	switch {
	case !c.has["termin.vertraulich"]:
		return "0 AS vertraulich"
	case !c.has["termin.serie_id"]:
		return "vertraulich"
	}
	return `(vertraulich OR COALESCE((SELECT s.vertraulich FROM termin s WHERE s.id = termin.serie_id), 0)) AS vertraulich`
}

// participantClause widens a Termin query to the Termine the worker
// (parameter param) takes part in (termin_teilnehmer, schema 2).
func (c *Cache) participantClause(idCol, param string) string {
	if !c.has["termin_teilnehmer"] {
		return ""
	}
	return ` OR ` + idCol + ` IN (SELECT termin_id FROM termin_teilnehmer WHERE sachbearbeiter_id = ` + param + `)`
}

// Empty reports whether a table of the cache has no rows at all (for
// adresse: no Adresse or no Abo), the sign of a cache restored empty.
func (c *Cache) Empty(ctx context.Context, table string) (bool, error) {
	tables := []string{table}
	switch table {
	case "termin", "frist", "wiedervorlage":
	case "adresse":
		tables = append(tables, "abo")
	default:
		return false, fmt.Errorf("empty: unknown table %q", table)
	}
	for _, t := range tables {
		var any bool
		if err := c.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&any); err != nil {
			return false, c.classify(fmt.Errorf("read %s: %w", t, err))
		}
		if !any {
			return true, nil
		}
	}
	return false, nil
}

// OrphanRows lists the rows that name a Sachbearbeiter the cache does not
// know: no worker's export reads them, so they are reported here.
func (c *Cache) OrphanRows(ctx context.Context) ([]RowError, error) {
	var out []RowError
	for _, table := range []string{"termin", "frist", "wiedervorlage", "abo"} {
		idCol := "id"
		if table == "abo" {
			idCol = "adresse_id"
		}
		rows, err := c.db.QueryContext(ctx, `SELECT `+idCol+`, COALESCE(sachbearbeiter_id, '') FROM `+table+
			` WHERE sachbearbeiter_id IS NULL OR sachbearbeiter_id NOT IN (SELECT id FROM sachbearbeiter) ORDER BY `+idCol)
		if err != nil {
			return nil, c.classify(fmt.Errorf("read %s: %w", table, err))
		}
		for rows.Next() {
			var id int64
			var worker string
			if err := rows.Scan(&id, &worker); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, RowError{Table: table, ID: fmt.Sprint(id), Reason: text.F("Sachbearbeiter „%s“ ist unbekannt", worker)})
		}
		rows.Close()
	}
	return out, nil
}
