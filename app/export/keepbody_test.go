package export_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/source"
)

// outlookEdit changes an event's body as Outlook saves it: HTML of its own.
func (b *bench) outlookEdit(sourceKey, text string) {
	b.t.Helper()
	ev, _, _ := b.mailbox()
	id := ev[sourceKey]["id"].(string)
	r := b.client.Do(context.Background(), graph.Request{Method: http.MethodPatch, URL: "/users/" + anna + "/events/" + id,
		Body: map[string]any{"body": map[string]any{"contentType": "html",
			"content": "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><div>" + text + "</div></body></html>"}}})
	if !r.OK() {
		b.t.Fatal(r.Err)
	}
}

func (b *bench) eventBody(sourceKey string) string {
	b.t.Helper()
	ev, _, _ := b.mailbox()
	m, _ := ev[sourceKey]["body"].(map[string]any)
	s, _ := m["content"].(string)
	return s
}

func (b *bench) changeDescription(id int, text string) {
	b.exec(`UPDATE termin SET beschreibung = ?, betreff = betreff || '!', geaendert_am = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`, text, id)
}

func TestKeepOutlookEdits(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 8, Appointments: 5})
	b.ex.Settings.KeepOutlookBodyEdits = true
	b.run(false)
	b.outlookEdit("termin:1", "Bitte die Originalvollmacht mitbringen (Anna)")

	t.Run("a changed Beschreibung does not overwrite the Outlook edit", func(t *testing.T) {
		b.changeDescription(1, "Neue Beschreibung aus der Kanzleisoftware")
		if res := b.run(false); res.Updated != 1 {
			t.Errorf("result %+v: the subject must still be updated", res)
		}
		if got := b.eventBody("termin:1"); !strings.Contains(got, "Originalvollmacht") {
			t.Errorf("body overwritten: %q", got)
		}
		ev, _, _ := b.mailbox()
		if s, _ := ev["termin:1"]["subject"].(string); !strings.HasSuffix(s, "!") {
			t.Errorf("subject not updated: %q", s)
		}
	})
	t.Run("a full check keeps it", func(t *testing.T) {
		b.run(true)
		if got := b.eventBody("termin:1"); !strings.Contains(got, "Originalvollmacht") {
			t.Errorf("body overwritten by the full check: %q", got)
		}
	})
	t.Run("the state database lost: kept", func(t *testing.T) {
		if err := b.st.ResetMappings(context.Background(), anna); err != nil {
			t.Fatal(err)
		}
		b.run(true)
		if got := b.eventBody("termin:1"); !strings.Contains(got, "Originalvollmacht") {
			t.Errorf("body overwritten after the state was lost: %q", got)
		}
		b.changeDescription(1, "Noch eine Beschreibung")
		b.run(false)
		if got := b.eventBody("termin:1"); !strings.Contains(got, "Originalvollmacht") {
			t.Errorf("body overwritten after the state was lost and a change: %q", got)
		}
	})
	t.Run("an event not edited in Outlook gets the new Beschreibung", func(t *testing.T) {
		b.changeDescription(2, "Geänderte Beschreibung")
		b.run(false)
		if got := b.eventBody("termin:2"); !strings.Contains(got, "Geänderte Beschreibung") {
			t.Errorf("body of an unedited event: %q", got)
		}
	})
	t.Run("setting off: the practice software wins again", func(t *testing.T) {
		b.ex.Settings.KeepOutlookBodyEdits = false
		b.changeDescription(1, "Die Kanzleisoftware führt")
		b.run(false)
		if got := b.eventBody("termin:1"); !strings.Contains(got, "Die Kanzleisoftware führt") {
			t.Errorf("body with the setting off: %q", got)
		}
	})
}

func TestOutlookEditsOverwrittenWhenTheSettingIsOff(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 8, Appointments: 2})
	b.run(false)
	b.outlookEdit("termin:1", "In Outlook geschrieben")
	b.changeDescription(1, "Aus der Kanzleisoftware")
	b.run(false)
	if got := b.eventBody("termin:1"); !strings.Contains(got, "Aus der Kanzleisoftware") || strings.Contains(got, "In Outlook") {
		t.Errorf("body: %q", got)
	}
}

// lists are the To Do lists of the mailbox by name, with their task count.
func (b *bench) lists() map[string]int {
	b.t.Helper()
	st, err := b.sim.State(anna)
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range st.TaskLists {
		tasks, _ := l["tasks"].([]any)
		out[l["displayName"].(string)] += len(tasks)
	}
	return out
}

func TestRenamedTodoListIsRenamedInEveryMailbox(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 4, Deadlines: 4, Resubmissions: 2})
	b.run(false)
	old := b.ex.Settings.TodoListName
	if got := b.lists(); got[old] != 6 {
		t.Fatalf("lists %v", got)
	}
	b.ex.Settings.TodoListName = "Kanzlei-Fristen"
	if res := b.run(false); res.ListsRenamed != 1 || !strings.Contains(res.Summary(), "To-Do-Liste umbenannt") {
		t.Errorf("rename: %+v %s", res, res.Summary())
	}
	if got := b.lists(); got["Kanzlei-Fristen"] != 6 || got[old] != 0 || len(got) != 2 { // and To Do's own "Aufgaben"
		t.Errorf("after the rename: %v", got)
	}
	b.exec(`INSERT INTO frist (id, aktenzeichen, bezeichnung, fristdatum, erledigt, sachbearbeiter_id, geaendert_am) VALUES (900, '12/26', 'Berufung', '2026-12-20', 0, 'AM', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`)
	if res := b.run(false); res.Created != 1 {
		t.Errorf("new Frist: %+v", res)
	}
	if got := b.lists(); got["Kanzlei-Fristen"] != 7 {
		t.Errorf("the new Frist is not in the renamed list: %v", got)
	}
	b.ex.Settings.TodoListName = old
	b.run(false)
	if got := b.lists(); got[old] != 7 || len(got) != 2 {
		t.Errorf("renamed back: %v", got)
	}
}

func TestSwitchingBackAndForth(t *testing.T) {
	b := newBench(t, source.GenOptions{Seed: 6, Appointments: 3, Deadlines: 3, Resubmissions: 1, Addresses: 4, Subscriptions: 2})
	b.run(false)
	count := func() [3]int {
		ev, tk, ct := b.counts()
		return [3]int{ev, tk, ct}
	}
	start := count()
	for i := range 2 {
		b.ex.Settings.DeadlinesTo = "calendar"
		b.run(false)
		if got := count(); got[1] != 0 || got[0] <= start[0] {
			t.Errorf("round %d, Fristen in the calendar: %v", i, got)
		}
		b.ex.Settings.DeadlinesTo = "todo"
		b.run(false)
		if got := count(); got != start {
			t.Errorf("round %d, back to To Do: %v, want %v", i, got, start)
		}
		for _, format := range []string{"text", "html"} {
			b.ex.Settings.BodyFormat = format
			b.sim.ResetRequests()
			b.run(false)
			sent := 0
			for _, r := range b.sim.Requests() {
				if r.Method == "PATCH" && strings.Contains(r.Body, `"contentType":"`+format+`"`) {
					sent++
				}
			}
			if sent != start[0]+start[1] {
				t.Errorf("round %d, bodies as %s: %d PATCHes, want one per event and task (%d)", i, format, sent, start[0]+start[1])
			}
		}
		b.worker.Modules = nil
		b.run(false)
		if got := count(); got != start {
			t.Errorf("round %d, modules off: %v (a switched-off module is left alone)", i, got)
		}
		b.worker.Modules = config.AllModules
		if res := b.run(false); res.Created != 0 || res.Deleted != 0 {
			t.Errorf("round %d, modules on again: %+v", i, res)
		}
	}
}
