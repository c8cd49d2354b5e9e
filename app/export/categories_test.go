package export_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
)

// masterList reads Anna's master category list: name → colour, and how
// often each name is there.
func (b *bench) masterList() (map[string]string, map[string]int) {
	b.t.Helper()
	raw, err := b.client.GetAll(context.Background(), "/users/"+anna+"/outlook/masterCategories")
	if err != nil {
		b.t.Fatal(err)
	}
	colors, count := map[string]string{}, map[string]int{}
	for _, r := range raw {
		var c struct{ ID, DisplayName, Color string }
		if err := json.Unmarshal(r, &c); err != nil {
			b.t.Fatal(err)
		}
		colors[c.DisplayName] = c.Color
		count[c.DisplayName]++
	}
	return colors, count
}

// Fristen red, Wiedervorlagen yellow and the Termine's categories in a
// colour each are in the master list once, after two cycles and after a
// lost state; a colour the user changed stays, the mailbox's own
// categories are untouched.
func TestCategoriesWithColours(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 4, Workers: source.DemoWorkers[:1], Appointments: 30, Deadlines: 5, Resubmissions: 5})
	b.ex.Settings.DeadlinesTo = "calendar"
	b.run(false)
	b.run(false)
	colors, count := b.masterList()
	want := map[string]string{"Frist": "preset0", "Wiedervorlage": "preset3", "Rote Kategorie": "preset0", "Gelbe Kategorie": "preset3"}
	for _, cat := range []string{"Gericht", "Mandant", "Intern"} {
		want[cat] = export.CategoryColor(cat)
	}
	for name, c := range want {
		if colors[name] != c || count[name] != 1 {
			t.Errorf("%s: colour %q ×%d, want %q once", name, colors[name], count[name], c)
		}
	}
	// the user makes Fristen green in Outlook
	raw, _ := b.client.GetAll(context.Background(), "/users/"+anna+"/outlook/masterCategories")
	for _, r := range raw {
		var c struct{ ID, DisplayName string }
		_ = json.Unmarshal(r, &c)
		if c.DisplayName == "Frist" {
			if res := b.client.Do(context.Background(), graph.Request{Method: http.MethodPatch, URL: "/users/" + anna + "/outlook/masterCategories/" + c.ID, Body: map[string]any{"color": "preset4"}}); !res.OK() {
				t.Fatal(res.Err)
			}
		}
	}
	if err := b.st.ResetMappings(context.Background(), anna); err != nil {
		t.Fatal(err)
	}
	b.run(false)
	b.run(false)
	colors, count = b.masterList()
	if colors["Frist"] != "preset4" || count["Frist"] != 1 || count["Wiedervorlage"] != 1 || count["Gericht"] != 1 {
		t.Errorf("after a lost state: Frist %s ×%d, Wiedervorlage ×%d, Gericht ×%d", colors["Frist"], count["Frist"], count["Wiedervorlage"], count["Gericht"])
	}
	if len(colors) != 11 {
		t.Errorf("%d categories, want the 6 of the mailbox and kanzleisync's 5: %v", len(colors), colors)
	}
}

// Without MailboxSettings.ReadWrite the export goes on: the items carry
// their categories, and the Protokoll says once what is missing.
func TestCategoriesWithoutThePermission(t *testing.T) {
	tf := m365sim.DemoTenant(time.Now())
	app := &tf.Tenants[0].Apps[0]
	app.AppRoles = []string{"Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite.All"}
	b := newBenchWith(t, tf, source.GenOptions{Seed: 4, Workers: source.DemoWorkers[:1], Appointments: 10, Deadlines: 3})
	b.ex.Settings.DeadlinesTo = "calendar"
	b.worker.Modules = []config.Module{config.Calendar}
	res := b.run(false)
	if res.Created == 0 || res.Failed != 0 {
		t.Fatalf("%+v", res)
	}
	b.exec(`UPDATE frist SET bezeichnung = 'Neu', geaendert_am = '2027-01-01T00:00:00Z'`)
	b.run(false)
	j, err := b.st.ReadJournal(context.Background(), store.JournalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	said := 0
	for _, e := range j {
		if e.Action == "categories" {
			said++
			if !strings.Contains(e.Error, "MailboxSettings.ReadWrite") || export.ItemLabel(e.ItemKey) != "Kategorien" {
				t.Errorf("journal: %s: %s", export.ItemLabel(e.ItemKey), e.Error)
			}
		}
	}
	if said != 1 {
		t.Errorf("the missing permission was said %d times, want once", said)
	}
	events, _, _ := b.mailbox()
	for key, e := range events {
		if strings.HasPrefix(key, "frist:") && !strings.Contains(strings.Join(asStrings(e["categories"]), ","), "Frist") {
			t.Errorf("%s lacks its category: %v", key, e["categories"])
		}
	}
}

func asStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
