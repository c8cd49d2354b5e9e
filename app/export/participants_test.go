package export_test

import (
	"context"
	"testing"

	"kanzleisync/app/config"
	"kanzleisync/app/export"
	"kanzleisync/app/source"
)

// A Termin for three Sachbearbeiter (termin_teilnehmer) is in each one's
// own calendar, without an invitation; removing one participant removes
// only their copy, and the others keep theirs (the same event, untouched).
func TestTerminForThree(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 9, Workers: source.DemoWorkers, Appointments: 3})
	b.exec(`INSERT INTO termin_teilnehmer (termin_id, sachbearbeiter_id) VALUES (1, 'JS'), (1, 'ÖY')`)
	workers := map[string]string{"AM": "anna.mueller@kanzlei.example", "JS": "jens.schaefer@kanzlei.example", "ÖY": "oezlem.yilmaz@kanzlei.example"}
	runAll := func() {
		t.Helper()
		for id, upn := range workers {
			if _, err := b.ex.Run(context.Background(), b.client, config.Worker{UPN: upn, Entity: "Kanzlei", Modules: []config.Module{config.Calendar}}, id, false, export.PlanOptions{}); err != nil {
				t.Fatalf("%s: %v", upn, err)
			}
		}
	}
	copyOf := func(upn string) map[string]any {
		t.Helper()
		st, err := b.sim.State(upn)
		if err != nil {
			t.Fatal(err)
		}
		var found map[string]any
		for _, e := range st.Events {
			for _, x := range e["singleValueExtendedProperties"].([]any) {
				if p := x.(map[string]any); p["value"] == "termin:1" {
					if found != nil {
						t.Errorf("%s has termin:1 twice", upn)
					}
					found = e
				}
			}
		}
		return found
	}
	runAll()
	ids := map[string]any{}
	for _, upn := range workers {
		e := copyOf(upn)
		if e == nil {
			t.Fatalf("%s has no copy of termin:1", upn)
		}
		if len(e["attendees"].([]any)) != 0 {
			t.Errorf("%s's copy invites: %v", upn, e["attendees"])
		}
		ids[upn] = e["id"]
	}
	if n := len(b.sim.Outbound()); n != 0 {
		t.Errorf("%d messages left the emulator: no invitation may be sent", n)
	}
	b.exec(`DELETE FROM termin_teilnehmer WHERE sachbearbeiter_id = 'ÖY'`)
	runAll()
	if e := copyOf(workers["ÖY"]); e != nil {
		t.Errorf("Özlem's copy is still there after she was removed")
	}
	for _, id := range []string{"AM", "JS"} {
		if e := copyOf(workers[id]); e == nil || e["id"] != ids[workers[id]] {
			t.Errorf("%s's copy changed or is gone: %v", id, e)
		}
	}
}
