package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"kanzleisync/app/config"
	"kanzleisync/app/source"
)

// What may leave the firm (§ 203 StGB), read back from the emulator: with
// „Aktenzeichen statt Mandant“ (or less) for every field, no Mandant's
// name is in any field of any exported item; a confidential Termin goes
// out private with only the neutral text; contacts leave out notes and
// private phones. Changing the setting PATCHes only the affected fields,
// and a first cycle after the upgrade PATCHes nothing for „sensitivity“.
func TestWhatLeavesTheFirm(t *testing.T) {
	ctx := context.Background()
	b := newBench(t, source.GenOptions{Seed: 5, Workers: source.DemoWorkers[:1], Appointments: 12, Confidential: 2, Deadlines: 6, Resubmissions: 4, Addresses: 5, Subscriptions: 5})
	appts, _, err := b.cache.Appointments(ctx, "AM")
	if err != nil {
		t.Fatal(err)
	}
	b.exec(`UPDATE adresse SET telefon_privat = '+49 89 5550' || id`) // the generator leaves them empty
	addrs, _, err := b.cache.SubscribedAddresses(ctx, "AM")
	if err != nil {
		t.Fatal(err)
	}
	// a Termin's Mandant: the whole name and each party of „A ./. B“
	parties := func(a source.Appointment) []string {
		out := []string{a.Client}
		for _, p := range strings.Split(a.Client, "./.") {
			out = append(out, strings.TrimSpace(p))
		}
		return out
	}
	// every field of an item but the organizer (the mailbox's owner,
	// which Exchange sets)
	exported := func(e map[string]any) string {
		c := map[string]any{}
		for k, v := range e {
			if k != "organizer" {
				c[k] = v
			}
		}
		raw, _ := json.Marshal(c)
		return string(raw)
	}
	var notes, homePhones []string
	for _, a := range addrs {
		if a.Note != "" {
			notes = append(notes, a.Note)
		}
		if a.HomePhone != "" {
			homePhones = append(homePhones, a.HomePhone)
		}
	}
	if len(notes) == 0 || len(homePhones) == 0 {
		t.Fatalf("the generated addresses have no notes (%d) or private phones (%d) to leave out", len(notes), len(homePhones))
	}

	// full: the Mandant is in the subjects (the test would see it)
	b.ex.Settings.DeadlinesTo = "calendar"
	b.run(false)
	events, _, _ := b.mailbox()
	for _, a := range appts {
		if named := strings.Contains(exported(events["termin:"+itoa(a.ID)]), a.Client); named == a.Confidential {
			t.Fatalf("with the full text termin:%d (confidential %v) names its Mandant: %v", a.ID, a.Confidential, named)
		}
	}

	b.sim.ResetRequests()
	b.ex.Settings.AppointmentSubject, b.ex.Settings.AppointmentLocation, b.ex.Settings.AppointmentBody = config.DiscloseFileNo, config.DiscloseNone, config.DiscloseFileNo
	b.ex.Settings.DeadlineSubject, b.ex.Settings.DeadlineBody = "text:Frist", config.DiscloseNone
	b.ex.Settings.ResubmissionSubject, b.ex.Settings.ResubmissionBody = config.DiscloseFileNo, config.DiscloseNone
	b.ex.Settings.ContactsWithoutNotes, b.ex.Settings.ContactsWithoutPrivatePhones = true, true
	if err := b.ex.Settings.Validate(); err != nil {
		t.Fatal(err)
	}
	res := b.run(false)
	t.Logf("after the change: %+v", res)
	events, _, contacts := b.mailbox()
	for _, a := range appts {
		for _, who := range parties(a) {
			if raw := exported(events["termin:"+itoa(a.ID)]); strings.Contains(raw, who) {
				t.Errorf("termin:%d still names its Mandant %q: %s", a.ID, who, raw)
			}
		}
	}
	for k, c := range contacts {
		raw, _ := json.Marshal(c)
		for _, s := range append(notes, homePhones...) {
			if strings.Contains(string(raw), s) {
				t.Errorf("contact %s still has %q", k, s)
			}
		}
	}
	private := 0
	for _, a := range appts {
		e := events["termin:"+itoa(a.ID)]
		if e == nil {
			t.Fatalf("termin:%d is not in the calendar", a.ID)
		}
		if a.Confidential {
			private++
			body, _ := e["body"].(map[string]any)
			if e["sensitivity"] != "private" || e["subject"] != "Termin" || e["location"].(map[string]any)["displayName"] != "" ||
				body["content"] != "" || len(e["categories"].([]any)) != 0 {
				t.Errorf("confidential termin:%d: sensitivity %v, subject %v, location %v, body %v, categories %v", a.ID, e["sensitivity"], e["subject"], e["location"], body, e["categories"])
			}
		} else if e["sensitivity"] != "normal" || !strings.Contains(e["subject"].(string), "Az. "+a.FileNo) {
			t.Errorf("termin:%d: sensitivity %v, subject %q (want the Aktenzeichen %s instead of the Mandant)", a.ID, e["sensitivity"], e["subject"], a.FileNo)
		}
	}
	if private != 2 {
		t.Errorf("%d confidential Termine, want 2", private)
	}
	for k, e := range events {
		if strings.HasPrefix(k, "frist:") && e["subject"] != "Frist" && e["subject"] != "Erledigt: Frist" {
			t.Errorf("%s: subject %q, want the fixed text", k, e["subject"])
		}
	}
	// only the affected fields were sent
	checkPatches(t, b)

	// a Termin that is no longer confidential gets its text back, normal
	var was int64
	for _, a := range appts {
		if a.Confidential {
			was = a.ID
			break
		}
	}
	b.exec(`UPDATE termin SET vertraulich = 0, geaendert_am = '2026-12-24T10:00:00Z' WHERE id = ?`, was)
	b.run(false)
	events, _, _ = b.mailbox()
	if e := events["termin:"+itoa(was)]; e["sensitivity"] != "normal" || e["subject"] == "Termin" {
		t.Errorf("termin:%d after it stopped being confidential: sensitivity %v, subject %v", was, e["sensitivity"], e["subject"])
	}
}

// checkPatches: every PATCH since the last reset touched only the fields a
// disclosure setting shapes.
func checkPatches(t *testing.T, b *bench) {
	t.Helper()
	for _, r := range b.sim.Requests() {
		if r.Method != "PATCH" {
			continue
		}
		var sent map[string]any
		_ = json.Unmarshal([]byte(r.Body), &sent)
		for f := range sent {
			if !slices.Contains([]string{"subject", "location", "body", "sensitivity", "categories", "personalNotes", "homePhones"}, f) {
				t.Errorf("PATCH %s sent %q, which the setting does not touch", r.Path, f)
			}
		}
	}
}

// An event exported before kanzleisync sent „sensitivity“ is not PATCHed
// for it: Graph's default is "normal".
func TestSensitivityNeedsNoPatchAfterTheUpgrade(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 2, Workers: source.DemoWorkers[:1], Appointments: 5})
	b.run(false)
	if _, err := b.st.DB().Exec(`UPDATE mapping SET field_hashes = json_remove(field_hashes, '$.sensitivity')`); err != nil {
		t.Fatal(err)
	}
	b.sim.ResetRequests()
	res := b.run(true)
	for _, r := range b.sim.Requests() {
		if r.Method == "PATCH" {
			t.Errorf("PATCH %s: %s", r.Path, r.Body)
		}
	}
	if res.Updated != 0 {
		t.Errorf("%d updated", res.Updated)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Fristen and Wiedervorlagen in the calendar as Outlook users expect
// them: the firm's show-as per kind, a reminder at 9:00 the day before a
// Frist and when a Vorfrist's or Wiedervorlage's day begins, the category
// of the kind; a done one is free and silent.
func TestCalendarDaysAsOutlookUsersExpect(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 7, Workers: source.DemoWorkers[:1], Deadlines: 8, Resubmissions: 4})
	b.exec(`UPDATE frist SET vorfrist = date(fristdatum, '-7 days'), erledigt = (id = 1)`)
	b.exec(`UPDATE wiedervorlage SET erledigt = 0`)
	b.ex.Settings.DeadlinesTo, b.ex.Settings.DeadlineShowAs, b.ex.Settings.ResubmissionShowAs = "calendar", "oof", "busy"
	if err := b.ex.Settings.Validate(); err != nil {
		t.Fatal(err)
	}
	b.run(false)
	events, _, _ := b.mailbox()
	seen := map[string]int{}
	for k, e := range events {
		kind, id, _ := strings.Cut(k, ":")
		seen[kind]++
		want := map[string]struct {
			showAs, category string
			reminder         float64
		}{"frist": {"oof", "Frist", 900}, "vorfrist": {"oof", "Frist", 0}, "wiedervorlage": {"busy", "Wiedervorlage", 0}}[kind]
		if (kind == "frist" || kind == "vorfrist") && id == "1" {
			if e["showAs"] != "free" || e["isReminderOn"] != false {
				t.Errorf("%s (erledigt): showAs %v, reminder %v", k, e["showAs"], e["isReminderOn"])
			}
			continue
		}
		cats, _ := e["categories"].([]any)
		if e["showAs"] != want.showAs || e["isReminderOn"] != true || fmt.Sprint(e["reminderMinutesBeforeStart"]) != fmt.Sprint(want.reminder) || len(cats) != 1 || cats[0] != want.category {
			t.Errorf("%s: showAs %v, reminder %v %v, categories %v; want %+v", k, e["showAs"], e["isReminderOn"], e["reminderMinutesBeforeStart"], cats, want)
		}
	}
	if seen["frist"] != 8 || seen["vorfrist"] != 8 || seen["wiedervorlage"] != 4 {
		t.Errorf("events %v", seen)
	}
}
