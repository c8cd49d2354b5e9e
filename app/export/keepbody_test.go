package export_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

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
