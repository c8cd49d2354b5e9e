package export

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Categories in the mailbox's master list, so that Outlook shows them in
// colour: Frist red, Wiedervorlage yellow, a Termin's kategorie in a colour
// of its own. kanzleisync creates a category once, when an item it sends
// first carries it, and then never touches it: a colour the user changed,
// or a category the user deleted, stays as the user left it. The mapping
// "category/<name>" records that the name is settled for the mailbox; a
// lost state looks at the list again and creates nothing that is there.
//
// Creating needs MailboxSettings.ReadWrite. Without it the items still get
// their categories (Outlook shows them without colour); the Protokoll says
// once an hour what is missing.

const categoryKind = "category"

// categoryColors: Outlook's presets (outlookCategory): preset0 red, preset3 yellow.
var categoryColors = map[string]string{CategoryDeadline: "preset0", CategoryResubmission: "preset3"}

// palette colours the Termine's categories: blue, green, purple, orange,
// teal, cranberry, olive, brown, steel — neither red nor yellow.
var palette = []string{"preset7", "preset4", "preset8", "preset1", "preset5", "preset9", "preset6", "preset2", "preset10"}

// CategoryColor is the colour kanzleisync gives a new category.
func CategoryColor(name string) string {
	if c, ok := categoryColors[name]; ok {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(name)))
	return palette[h.Sum32()%uint32(len(palette))]
}

// deniedKey is the mapping that records, in the state, when the master
// list was refused (403): not asked again for an hour, across restarts.
const deniedKey = categoryKind + "/"

// ensureCategories creates the categories the operations' items carry
// that are not settled for the mailbox yet.
func (e *Exporter) ensureCategories(ctx context.Context, c *graph.Client, w config.Worker, mb string, ops []Op, maps map[string]store.Mapping) error {
	var names []string
	for _, op := range ops {
		if op.Item.Kind != Event || (op.Action != "create" && op.Action != "recreate" && !slices.Contains(op.Fields, "categories")) {
			continue
		}
		cats, _ := op.Item.Fields()["categories"].([]any)
		for _, v := range cats {
			name, _ := v.(string)
			key := categoryKind + "/" + strings.ToLower(name)
			if _, settled := maps[key]; name != "" && !settled && !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	if m, ok := maps[deniedKey]; ok && e.now().Before(m.Updated.Add(time.Hour)) {
		return nil
	}
	url := mb + "/outlook/masterCategories"
	list := func() (map[string]string, error) {
		raw, err := c.GetAll(ctx, url)
		if err != nil {
			return nil, err
		}
		have := map[string]string{}
		for _, r := range raw {
			var cat struct{ ID, DisplayName string }
			_ = json.Unmarshal(r, &cat)
			have[strings.ToLower(cat.DisplayName)] = cat.ID
		}
		return have, nil
	}
	have, err := list()
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Status == http.StatusForbidden {
		if err := e.Store.PutMapping(ctx, store.Mapping{Worker: w.UPN, ItemKey: deniedKey, GraphID: "denied", Hashes: map[string]string{}, Updated: e.now()}); err != nil {
			return err
		}
		return e.Store.Journal(ctx, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: categoryKind, Action: "categories", Result: "error", RequestID: ge.RequestID,
			Error: text.T("Kategorien ohne Farbe: der App fehlt die Berechtigung MailboxSettings.ReadWrite. Die Einträge tragen ihre Kategorien trotzdem; für die Farben muss ein Administrator die Berechtigung erteilen (Administratorzustimmung).")})
	}
	if err != nil {
		// tried again when the next item that carries a new category is sent
		return e.Store.Journal(ctx, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: categoryKind, Action: "categories", Result: "error",
			Error: text.F("Die Kategorienliste des Postfachs war nicht lesbar (%s); die Farben folgen mit dem nächsten Eintrag, der eine neue Kategorie trägt.", err.Error())})
	}
	if _, ok := maps[deniedKey]; ok {
		if err := e.Store.DeleteMapping(ctx, w.UPN, deniedKey); err != nil { // granted meanwhile
			return err
		}
	}
	var settled []store.Mapping
	var journal []store.JournalEntry
	for _, name := range names {
		id, ok := have[strings.ToLower(name)]
		if !ok {
			r := c.Do(ctx, graph.Request{Method: http.MethodPost, URL: url, Body: map[string]any{"displayName": name, "color": CategoryColor(name)}})
			var created struct{ ID string }
			switch {
			case r.OK():
				_ = json.Unmarshal(r.Body, &created)
				id = created.ID
				journal = append(journal, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: categoryKind + "/" + name, Title: name, Action: "create", Result: "ok", RequestID: r.RequestID})
			case r.Status == http.StatusConflict:
				// created meanwhile (Outlook, another workstation): it stays as it is
				if again, err := list(); err == nil {
					id = again[strings.ToLower(name)]
				}
			default:
				journal = append(journal, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: categoryKind + "/" + name, Title: name, Action: "create", Result: "error", Error: r.Err.Error(), RequestID: r.RequestID})
				continue
			}
		}
		if id != "" {
			settled = append(settled, store.Mapping{Worker: w.UPN, ItemKey: categoryKind + "/" + strings.ToLower(name), GraphID: id, Hashes: map[string]string{}, Updated: e.now()})
		}
	}
	if err := e.Store.PutMappings(ctx, settled...); err != nil {
		return err
	}
	return e.Store.Journal(ctx, journal...)
}
