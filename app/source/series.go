package source

import (
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"kanzleisync/app/text"
)

// Rule is a Serientermin's rule: the subset of RFC 5545 RRULE that
// Outlook's recurrence patterns can hold without changing its meaning
// (docs/cache-schema.md lists it).
type Rule struct {
	Freq     string // DAILY, WEEKLY, MONTHLY, YEARLY
	Interval int
	// Days are the weekdays of a WEEKLY rule, or the one weekday of a
	// MONTHLY/YEARLY rule with Ordinal (1–4, -1 the last) set.
	Days      []time.Weekday
	Ordinal   int
	MonthDay  int        // BYMONTHDAY of a MONTHLY/YEARLY rule
	Month     time.Month // the month of a YEARLY rule
	WeekStart time.Weekday
	Count     int   // COUNT (0: none)
	Until     *Date // UNTIL as a local day (nil: none)
}

var rruleDays = map[string]time.Weekday{"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday,
	"FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday}

// germanDays names weekdays for the journal.
var germanDays = [...]string{text.Mark("Sonntag"), text.Mark("Montag"), text.Mark("Dienstag"), text.Mark("Mittwoch"), text.Mark("Donnerstag"), text.Mark("Freitag"), text.Mark("Samstag")}

// ParseRule reads an RRULE for a series whose first occurrence begins at
// start (local time). A rule kanzleisync cannot give Outlook unchanged
// is refused with the reason, in German: the series would otherwise fall
// on other days in Outlook than in the practice software.
func ParseRule(raw string, start time.Time) (*Rule, error) {
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "RRULE:")
	r := &Rule{Interval: 1, WeekStart: time.Monday}
	fail := func(format string, args ...any) (*Rule, error) {
		return nil, fmt.Errorf("%s", text.F("Serienregel „%s“: ", raw)+text.F(format, args...))
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k = strings.ToUpper(k)
		if !ok || v == "" {
			return fail(text.Mark("„%s“ ist kein Teil der Form NAME=WERT"), part)
		}
		if seen[k] {
			return fail(text.Mark("%s kommt zweimal vor"), k)
		}
		seen[k] = true
		switch k {
		case "FREQ":
			r.Freq = strings.ToUpper(v)
			switch r.Freq {
			case "DAILY", "WEEKLY", "MONTHLY", "YEARLY":
			default:
				return fail(text.Mark("FREQ=%s wird nicht unterstützt (nur DAILY, WEEKLY, MONTHLY, YEARLY)"), v)
			}
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 99 {
				return fail(text.Mark("INTERVAL=%s ist keine Zahl von 1 bis 99"), v)
			}
			r.Interval = n
		case "COUNT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 999 {
				return fail(text.Mark("COUNT=%s ist keine Zahl von 1 bis 999 (Outlook hält höchstens 999 Termine einer Serie)"), v)
			}
			r.Count = n
		case "UNTIL":
			day := v
			if len(day) >= 8 {
				day = day[:8]
			}
			t, err := time.Parse("20060102", day)
			if err != nil || (len(v) > 8 && v[8] != 'T') {
				return fail(text.Mark("UNTIL=%s ist kein Datum JJJJMMTT oder JJJJMMTTThhmmss"), v)
			}
			if strings.HasSuffix(v, "Z") && len(v) == 16 {
				// a UTC end: the local day it falls on
				if u, err := time.Parse("20060102T150405Z", v); err == nil {
					t = u.In(Berlin)
				}
			}
			r.Until = &Date{t.Year(), t.Month(), t.Day()}
		case "BYDAY":
			for _, d := range strings.Split(strings.ToUpper(v), ",") {
				name := d[max(0, len(d)-2):]
				wd, ok := rruleDays[name]
				if !ok {
					return fail(text.Mark("BYDAY=%s: „%s“ ist kein Wochentag (MO, TU, WE, TH, FR, SA, SU)"), v, d)
				}
				if ord := d[:len(d)-2]; ord != "" {
					n, err := strconv.Atoi(strings.TrimPrefix(ord, "+"))
					if err != nil || !(n >= 1 && n <= 4 || n == -1) {
						return fail(text.Mark("BYDAY=%s: „%s“ – Outlook kennt nur den 1. bis 4. und den letzten Wochentag im Monat"), v, d)
					}
					r.Ordinal = n
				}
				r.Days = append(r.Days, wd)
			}
		case "BYMONTHDAY":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 31 {
				return fail(text.Mark("BYMONTHDAY=%s ist kein Tag von 1 bis 31"), v)
			}
			r.MonthDay = n
		case "BYMONTH":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 12 {
				return fail(text.Mark("BYMONTH=%s ist kein Monat von 1 bis 12"), v)
			}
			r.Month = time.Month(n)
		case "WKST":
			wd, ok := rruleDays[strings.ToUpper(v)]
			if !ok {
				return fail(text.Mark("WKST=%s ist kein Wochentag"), v)
			}
			r.WeekStart = wd
		default:
			return fail(text.Mark("%s wird nicht unterstützt"), k)
		}
	}
	if r.Freq == "" {
		return fail(text.Mark("FREQ fehlt"))
	}
	if r.Count > 0 && r.Until != nil {
		return fail(text.Mark("COUNT und UNTIL schließen einander aus"))
	}
	if r.Until != nil && r.Until.String() < (Date{start.Year(), start.Month(), start.Day()}).String() {
		return fail(text.Mark("UNTIL %s liegt vor dem ersten Termin %s"), r.Until, start.Format(dateLayout))
	}
	switch r.Freq {
	case "DAILY":
		if len(r.Days) > 0 || r.MonthDay > 0 || r.Month > 0 {
			return fail(text.Mark("eine tägliche Serie kennt hier weder BYDAY noch BYMONTHDAY noch BYMONTH"))
		}
	case "WEEKLY":
		if r.Ordinal != 0 || r.MonthDay > 0 || r.Month > 0 {
			return fail(text.Mark("eine wöchentliche Serie kennt nur BYDAY ohne Nummer"))
		}
		if len(r.Days) == 0 {
			r.Days = []time.Weekday{start.Weekday()}
		}
		if !slices.Contains(r.Days, start.Weekday()) {
			return fail(text.Mark("der erste Termin ist ein %s, die Regel nennt diesen Tag nicht"), text.T(germanDays[start.Weekday()]))
		}
	case "MONTHLY", "YEARLY":
		if r.Freq == "MONTHLY" && r.Month > 0 {
			return fail(text.Mark("eine monatliche Serie kennt kein BYMONTH"))
		}
		if r.Month == 0 {
			r.Month = start.Month()
		}
		if r.Freq == "YEARLY" && r.Month != start.Month() {
			return fail(text.Mark("der erste Termin liegt nicht im Monat %d der Regel"), r.Month)
		}
		switch {
		case len(r.Days) > 0 && r.MonthDay > 0:
			return fail(text.Mark("BYDAY und BYMONTHDAY zusammen werden nicht unterstützt"))
		case len(r.Days) > 1 || len(r.Days) == 1 && r.Ordinal == 0:
			return fail(text.Mark("eine monatliche oder jährliche Serie braucht genau einen Wochentag mit Nummer, z. B. BYDAY=2TU"))
		case len(r.Days) == 1:
			if nthWeekday(start, r.Ordinal) != start.Day() || start.Weekday() != r.Days[0] {
				return fail(text.Mark("der erste Termin %s ist nicht der Wochentag der Regel"), start.Format(dateLayout))
			}
		default:
			if r.MonthDay == 0 {
				r.MonthDay = start.Day()
			}
			if r.MonthDay > 28 {
				// RFC 5545 skips a month without that day, Outlook moves it to the month's last day
				return fail(text.Mark("der %d. eines Monats fällt in kürzeren Monaten in Outlook auf den Monatsletzten, in der Kanzleisoftware aus; bitte bis zum 28. oder als Wochentag im Monat planen (z. B. BYDAY=-1FR)"), r.MonthDay)
			}
			if r.MonthDay != start.Day() {
				return fail(text.Mark("der erste Termin liegt nicht am %d. des Monats"), r.MonthDay)
			}
		}
	}
	return r, nil
}

// nthWeekday is the day of the month of t's weekday number n (1–4, -1 the
// last) in t's month.
func nthWeekday(t time.Time, n int) int {
	if n == -1 {
		last := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC)
		for last.Weekday() != t.Weekday() {
			last = last.AddDate(0, 0, -1)
		}
		return last.Day()
	}
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	for first.Weekday() != t.Weekday() {
		first = first.AddDate(0, 0, 1)
	}
	return first.Day() + 7*(n-1)
}

// series reads a Termin's series columns (schema 3) into a.
func (k *checker) series(a *Appointment, rule, cancelled sql.NullString, seriesID sql.NullInt64, original sql.NullString) {
	if rule.Valid && strings.TrimSpace(rule.String) != "" {
		if seriesID.Valid {
			k.problems = append(k.problems, text.T("ist zugleich Serie und geänderter Termin einer Serie"))
			return
		}
		r, err := ParseRule(rule.String, a.Start)
		if err != nil {
			k.problems = append(k.problems, err.Error())
			return
		}
		a.Rule = r
		for _, d := range strings.Split(cancelled.String, ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			t, err := time.Parse(dateLayout, d)
			if err != nil {
				k.problems = append(k.problems, text.F("Ausfall „%s“ ist kein Datum (erwartet JJJJ-MM-TT)", d))
				continue
			}
			a.Cancelled = append(a.Cancelled, Date{t.Year(), t.Month(), t.Day()})
		}
		return
	}
	if strings.TrimSpace(cancelled.String) != "" {
		k.problems = append(k.problems, text.T("nennt Ausfälle, ist aber keine Serie"))
	}
	if seriesID.Valid {
		a.SeriesID = seriesID.Int64
		if !original.Valid || original.String == "" {
			k.problems = append(k.problems, text.T("geänderter Termin einer Serie ohne ursprünglichen Beginn"))
			return
		}
		a.OriginalStart = k.local(text.T("ursprünglicher Beginn"), original)
	}
}
