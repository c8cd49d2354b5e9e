package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"sync"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/source"
)

// SourceKeyProperty is the single-value extended property that carries an
// item's source key in Outlook (events, contacts).
const SourceKeyProperty = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name kanzleisync.SourceKey"

// linkedApp names kanzleisync in a To Do task's linkedResources, whose
// externalId carries the source key (todoTask has no extended properties in
// Graph v1.0).
const linkedApp = "kanzleisync"

// windowsBerlin is the zone Graph gets with every local time.
const windowsBerlin = "W. Europe Standard Time"

// Target kinds.
const (
	Event   = "event"
	Task    = "task"
	Contact = "contact"
)

// Item is what one source item should look like in Microsoft 365.
type Item struct {
	Key       string    // mapping key: "event/termin:4711"
	Kind      string    // event, task or contact
	SourceKey string    // "termin:4711"
	Modified  time.Time // geaendert_am in the cache
	fields    *lazyFields
	// Series is the master's key of a series' child: a changed occurrence
	// (Original is its original start) or a cancelled one (CancelDay).
	Series    string
	Original  time.Time
	CancelDay source.Date
	// title overrides the Protokoll's title (a cancelled occurrence)
	title string
	// txSuffix makes the transactionId of a re-created series master new
	txSuffix string
}

// lazyFields builds an item's Graph properties only when a cycle needs
// them: most items of a cycle are unchanged and never need them.
type lazyFields struct {
	once  sync.Once
	build func() map[string]any
	m     map[string]any
}

func newItem(kind, sourceKey string, modified time.Time, build func() map[string]any) Item {
	return Item{Key: kind + "/" + sourceKey, Kind: kind, SourceKey: sourceKey, Modified: modified, fields: &lazyFields{build: build}}
}

// Fields are the exported Graph properties.
func (it Item) Fields() map[string]any {
	if it.fields == nil {
		return nil
	}
	it.fields.once.Do(func() { it.fields.m = it.fields.build() })
	return it.fields.m
}

// Hashes are the per-field fingerprints of what was sent.
// Title is the item's subject or name as it goes to Microsoft 365, for
// the Protokoll ("" for an item known only by its key, e.g. a deletion).
func (it Item) Title() string {
	if it.title != "" {
		return it.title
	}
	if it.fields == nil {
		return ""
	}
	f := it.Fields()
	str := func(k string) string { s, _ := f[k].(string); return s }
	if it.Kind == Contact {
		// a contact's "title" is the person's (Dr.), not the item's
		if name := strings.TrimSpace(str("givenName") + " " + str("surname")); name != "" {
			return name
		}
		return str("companyName")
	}
	if s := str("subject"); s != "" {
		return s
	}
	return str("title") // a To Do task's

}

func (it Item) Hashes() map[string]string {
	fields := it.Fields()
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = fingerprint(v)
	}
	if !it.Original.IsZero() {
		// which occurrence of which series a changed occurrence is: not a
		// field of its own in Graph, but a change of it is a change
		out[originalKey] = fingerprint(it.Series + "@" + it.Original.UTC().Format(time.RFC3339))
	}
	return out
}

// originalKey is the pseudo-field of a changed occurrence's place in its series.
const originalKey = "_original"

// changed lists the fields whose fingerprint differs from stored ones.
// A field kanzleisync did not send before and whose value is what Graph
// gives an item without it (serverDefaults) is not a change: an event
// exported before „sensitivity“ was sent is "normal" already.
func (it Item) changed(stored map[string]string) []string {
	var out []string
	hashes := it.Hashes()
	for k, h := range hashes {
		if _, sent := stored[k]; !sent && serverDefaults[k] == h {
			continue
		}
		if stored[k] != h {
			out = append(out, k)
		}
	}
	if _, was := stored["recurrence"]; was {
		if _, is := hashes["recurrence"]; !is {
			out = append(out, "recurrence") // a series became a single Termin
		}
	}
	return out
}

// serverDefaults are the fingerprints of Graph's defaults of fields
// kanzleisync added later.
var serverDefaults = map[string]string{"sensitivity": fingerprint("normal")}

func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

func dtz(t time.Time) map[string]any {
	return map[string]any{"dateTime": t.In(source.Berlin).Format("2006-01-02T15:04:05"), "timeZone": windowsBerlin}
}

func dayDTZ(d source.Date, hour int) map[string]any {
	return map[string]any{"dateTime": fmt.Sprintf("%sT%02d:00:00", d, hour), "timeZone": windowsBerlin}
}

func body(format string, lines ...string) map[string]any {
	var kept []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			kept = append(kept, l)
		}
	}
	text := strings.Join(kept, "\n")
	if format == "text" {
		return map[string]any{"contentType": "text", "content": text}
	}
	return map[string]any{"contentType": "html", "content": strings.ReplaceAll(html.EscapeString(text), "\n", "<br>")}
}

func fileLine(fileNo, client string) string {
	switch {
	case fileNo != "" && client != "":
		return "Aktenzeichen " + fileNo + " – " + client
	case fileNo != "":
		return "Aktenzeichen " + fileNo
	}
	return client
}

// appointmentItem: a Termin as an Outlook event.
func appointmentItem(a source.Appointment, s config.Settings) Item {
	return newItem(Event, fmt.Sprintf("termin:%d", a.ID), a.Modified, func() map[string]any { return appointmentFields(a, s) })
}

func appointmentFields(a source.Appointment, s config.Settings) map[string]any {
	f := map[string]any{
		"start":       dtz(a.Start),
		"end":         dtz(a.End),
		"isAllDay":    a.AllDay,
		"sensitivity": "normal",
	}
	cats := []any{}
	if a.Category != "" {
		cats = append(cats, a.Category)
	}
	if a.Confidential {
		// only the neutral text; Outlook shows it with a lock, and a
		// delegate or a shared calendar sees „Privater Termin“
		f["subject"], f["location"], f["body"], f["sensitivity"] = s.ConfidentialText(), map[string]any{"displayName": ""}, body(s.BodyFormat), "private"
		cats = []any{}
	} else {
		f["subject"] = subjectText(s.AppointmentSubject, a.Subject, redact(a.Subject, a.Client, a.FileNo))
		switch disclosure(s.AppointmentLocation) {
		case config.DiscloseFileNo:
			f["location"] = map[string]any{"displayName": redact(a.Location, a.Client, a.FileNo)}
		case config.DiscloseNone:
			f["location"] = map[string]any{"displayName": ""}
		default:
			f["location"] = map[string]any{"displayName": a.Location}
		}
		switch disclosure(s.AppointmentBody) {
		case config.DiscloseFileNo:
			f["body"] = body(s.BodyFormat, redact(a.Description, a.Client, a.FileNo), fileLine(a.FileNo, ""))
		case config.DiscloseNone:
			f["body"] = body(s.BodyFormat)
		default:
			f["body"] = body(s.BodyFormat, a.Description, fileLine(a.FileNo, a.Client))
		}
	}
	f["categories"] = cats
	if a.Rule != nil {
		f["recurrence"] = recurrenceOf(a)
	}
	if a.ReminderMinutes != nil {
		f["isReminderOn"] = true
		f["reminderMinutesBeforeStart"] = *a.ReminderMinutes
	} else {
		f["isReminderOn"] = false
	}
	return f
}

// disclosure reads a field's setting; "voll" is the full text too.
func disclosure(d string) string {
	if d == "voll" {
		return config.DiscloseFull
	}
	return d
}

// subjectText is a subject under its setting: full, the redacted one
// (fileNo), or the fixed text.
func subjectText(setting, full, redacted string) string {
	d := disclosure(setting)
	if fixed, ok := strings.CutPrefix(d, config.DiscloseText); ok {
		return fixed
	}
	if d == config.DiscloseFileNo {
		return redacted
	}
	return full
}

// redact replaces the Mandant in s — the whole name and each party of
// „Müller ./. Schröder“ — with the Aktenzeichen („Az. 12/26“), or with
// „Mandant“ where the Termin has none.
func redact(s, client, fileNo string) string {
	client = strings.TrimSpace(client)
	if client == "" || s == "" {
		return s
	}
	with := "Mandant"
	if fileNo != "" {
		with = "Az. " + fileNo
	}
	s = strings.ReplaceAll(s, client, with)
	for _, party := range strings.Split(client, "./.") {
		if party = strings.TrimSpace(party); len([]rune(party)) >= 2 {
			s = strings.ReplaceAll(s, party, with)
		}
	}
	return s
}

// dayEvent is an all-day event for one day (Frist, Vorfrist, Wiedervorlage
// in the calendar). showAs is the firm's choice for the kind ("": free);
// reminder is the minutes before the day's midnight Outlook reminds (-1:
// none); a done one neither reminds nor blocks the day.
func dayEvent(sourceKey, subject string, d source.Date, done bool, modified time.Time, b map[string]any, category, showAs string, reminder int) Item {
	next := d.Midnight(source.Berlin).AddDate(0, 0, 1)
	if showAs == "" || done {
		showAs = "free"
	}
	if done {
		subject = "Erledigt: " + subject
		reminder = -1
	}
	return newItem(Event, sourceKey, modified, func() map[string]any {
		f := map[string]any{
			"subject": subject, "isAllDay": true, "showAs": showAs, "body": b,
			"start": dayDTZ(d, 0), "end": dayDTZ(source.Date{Year: next.Year(), Month: next.Month(), Day: next.Day()}, 0),
			"isReminderOn": reminder >= 0, "categories": []any{category},
		}
		if reminder >= 0 {
			f["reminderMinutesBeforeStart"] = reminder
		}
		return f
	})
}

// Reminders of the all-day events: a Frist at 9:00 the day before, its
// Vorfrist and a Wiedervorlage when their day begins.
const (
	reminderDayBefore = 15 * 60
	reminderOnTheDay  = 0
)

// Categories kanzleisync gives its all-day events (and creates with their
// colours in the mailbox's master list).
const (
	CategoryDeadline     = "Frist"
	CategoryResubmission = "Wiedervorlage"
)

func task(sourceKey, title string, due source.Date, early *source.Date, done bool, modified time.Time, b map[string]any) Item {
	return newItem(Task, sourceKey, modified, func() map[string]any { return taskFields(title, due, early, done, b) })
}

func taskFields(title string, due source.Date, early *source.Date, done bool, b map[string]any) map[string]any {
	f := map[string]any{"title": title, "dueDateTime": dayDTZ(due, 0), "body": b, "importance": "high"}
	if early != nil {
		f["isReminderOn"] = true
		f["reminderDateTime"] = dayDTZ(*early, 8)
	} else {
		f["isReminderOn"] = false
	}
	if done {
		f["status"] = "completed"
	} else {
		f["status"] = "notStarted"
	}
	return f
}

// deadlineItems: a Frist as a To Do task (Vorfrist as its reminder) or as
// all-day events (Vorfrist as its own event).
func deadlineItems(d source.Deadline, s config.Settings) []Item {
	key := fmt.Sprintf("frist:%d", d.ID)
	title := subjectText(s.DeadlineSubject, "Frist: "+d.Title+fileNoSuffix(d.FileNo), "Frist"+fileNoSuffix(d.FileNo))
	var b map[string]any
	switch disclosure(s.DeadlineBody) {
	case config.DiscloseFileNo:
		b = body(s.BodyFormat, "Frist", fileLine(d.FileNo, ""), "Fristdatum "+germanDate(d.Due))
	case config.DiscloseNone:
		b = body(s.BodyFormat)
	default:
		b = body(s.BodyFormat, "Frist "+d.Title, fileLine(d.FileNo, ""), "Fristdatum "+germanDate(d.Due))
	}
	if s.DeadlinesTo == "todo" {
		return []Item{task(key, title, d.Due, d.EarlyWarning, d.Done, d.Modified, b)}
	}
	items := []Item{dayEvent(key, title, d.Due, d.Done, d.Modified, b, CategoryDeadline, s.DeadlineShowAs, reminderDayBefore)}
	if d.EarlyWarning != nil {
		early := subjectText(s.DeadlineSubject, "Vorfrist: "+d.Title, "Vorfrist"+fileNoSuffix(d.FileNo))
		if _, fixed := strings.CutPrefix(disclosure(s.DeadlineSubject), config.DiscloseText); fixed {
			early = "Vorfrist: " + title
		}
		items = append(items, dayEvent(fmt.Sprintf("vorfrist:%d", d.ID), early+" (Frist "+germanDate(d.Due)+")",
			*d.EarlyWarning, d.Done, d.Modified, b, CategoryDeadline, s.DeadlineShowAs, reminderOnTheDay))
	}
	return items
}

func fileNoSuffix(fileNo string) string {
	if fileNo == "" {
		return ""
	}
	return " (" + fileNo + ")"
}

func resubmissionItem(r source.Resubmission, s config.Settings) Item {
	key := fmt.Sprintf("wiedervorlage:%d", r.ID)
	title := subjectText(s.ResubmissionSubject, "Wiedervorlage: "+r.Reason+fileNoSuffix(r.FileNo), "Wiedervorlage"+fileNoSuffix(r.FileNo))
	var b map[string]any
	switch disclosure(s.ResubmissionBody) {
	case config.DiscloseFileNo:
		b = body(s.BodyFormat, "Wiedervorlage", fileLine(r.FileNo, ""))
	case config.DiscloseNone:
		b = body(s.BodyFormat)
	default:
		b = body(s.BodyFormat, "Wiedervorlage "+r.Reason, fileLine(r.FileNo, ""))
	}
	if s.DeadlinesTo == "todo" {
		return task(key, title, r.Date, nil, r.Done, r.Modified, b)
	}
	return dayEvent(key, title, r.Date, r.Done, r.Modified, b, CategoryResubmission, s.ResubmissionShowAs, reminderOnTheDay)
}

func germanDate(d source.Date) string { return fmt.Sprintf("%02d.%02d.%04d", d.Day, d.Month, d.Year) }

// addressItem: a subscribed Adresse as an Outlook contact.
func addressItem(a source.Address, s config.Settings) Item {
	return newItem(Contact, fmt.Sprintf("adresse:%d", a.ID), a.Modified, func() map[string]any { return addressFields(a, s) })
}

func addressFields(a source.Address, s config.Settings) map[string]any {
	if s.ContactsWithoutNotes {
		a.Note = ""
	}
	if s.ContactsWithoutPrivatePhones {
		a.HomePhone = ""
	}
	mails := []any{}
	name := strings.TrimSpace(a.GivenName + " " + a.Surname)
	for _, m := range a.Emails {
		mails = append(mails, map[string]any{"address": m, "name": name})
	}
	phones := func(p string) []any {
		if p == "" {
			return []any{}
		}
		return []any{p}
	}
	f := map[string]any{
		"givenName": a.GivenName, "surname": a.Surname, "title": a.Title, "companyName": a.Company,
		"emailAddresses": mails, "businessPhones": phones(a.BusinessPhone), "homePhones": phones(a.HomePhone),
		"mobilePhone": a.Mobile, "personalNotes": a.Note,
		"businessAddress": map[string]any{"street": a.Street, "postalCode": a.PostalCode, "city": a.City, "countryOrRegion": a.Country},
	}
	return f
}
