// Package export keeps a worker's Microsoft 365 mailbox in step with the
// practice software's cache: it plans creates, field-wise updates, deletes
// and re-creates against its own mapping, and applies them in Graph batches
// so that a crash at any moment loses nothing and doubles nothing.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Exporter exports one worker's items.
type Exporter struct {
	Store    *store.Store
	Cache    *source.Cache
	Settings config.Settings
	Logger   *slog.Logger
	Now      func() time.Time
	// Installation prefixes transactionIds, so that two workstations never share one.
	Installation string
	// Guard holds mass deletions back (zero: DefaultGuard).
	Guard Guard
	// OnChunk is told after each chunk of operations how far a cycle is,
	// per target kind (event, task, contact).
	OnChunk func(done, total map[string]int)

	progress func(part []Op)
	// failedDeletes are the keys whose delete failed in the running cycle.
	failedDeletes []string
	// adjusted are the running cycle's repaired rows (Plan.Adjusted).
	adjusted map[string]string
	// listRenamed: the running cycle renamed the To Do list.
	listRenamed bool
}

// Op is one planned change.
type Op struct {
	Action  string // create, update, delete
	Item    Item
	Mapping store.Mapping
	Fields  []string // update: the changed fields
	// keepBody: the body was edited in Outlook and is not sent
	keepBody bool
	// forget are child mappings (occurrences of a series) dropped when
	// the operation succeeds: Outlook dropped or deleted them with it
	forget []string
}

// Plan is what one cycle would do for one worker.
type Plan struct {
	Worker  string
	Ops     []Op
	Skipped []source.RowError
	// Adjusted are rows exported after a repair, by "table:id" (German).
	Adjusted map[string]string
}

// Summary counts a plan's operations, in German, e.g.
// "12 Termine anlegen, 3 Termine ändern, 45 Kontakte anlegen".
func (p *Plan) Summary() string {
	type k struct{ kind, action string }
	counts := map[k]int{}
	for _, op := range p.Ops {
		action := op.Action
		if op.Item.CancelDay != (source.Date{}) {
			action = "cancel"
		}
		counts[k{op.Item.Kind, action}]++
	}
	say := map[k]func(n int) string{
		{Event, "create"}: func(n int) string { return text.Nf(n, "%d Kalendereintrag anlegen", "%d Kalendereinträge anlegen") },
		{Event, "update"}: func(n int) string { return text.Nf(n, "%d Kalendereintrag ändern", "%d Kalendereinträge ändern") },
		{Event, "delete"}: func(n int) string { return text.Nf(n, "%d Kalendereintrag löschen", "%d Kalendereinträge löschen") },
		{Event, "cancel"}: func(n int) string {
			return text.Nf(n, "%d Termin einer Serie absagen", "%d Termine von Serien absagen")
		},
		{Event, "recreate"}: func(n int) string { return text.Nf(n, "%d Serie neu anlegen", "%d Serien neu anlegen") },
		{Task, "create"}:    func(n int) string { return text.Nf(n, "%d Aufgabe anlegen", "%d Aufgaben anlegen") },
		{Task, "update"}:    func(n int) string { return text.Nf(n, "%d Aufgabe ändern", "%d Aufgaben ändern") },
		{Task, "delete"}:    func(n int) string { return text.Nf(n, "%d Aufgabe löschen", "%d Aufgaben löschen") },
		{Contact, "create"}: func(n int) string { return text.Nf(n, "%d Kontakt anlegen", "%d Kontakte anlegen") },
		{Contact, "update"}: func(n int) string { return text.Nf(n, "%d Kontakt ändern", "%d Kontakte ändern") },
		{Contact, "delete"}: func(n int) string { return text.Nf(n, "%d Kontakt löschen", "%d Kontakte löschen") },
	}
	var parts []string
	for _, kind := range []string{Event, Task, Contact} {
		for _, a := range []string{"create", "update", "delete", "cancel", "recreate"} {
			if n := counts[k{kind, a}]; n > 0 {
				parts = append(parts, say[k{kind, a}](n))
			}
		}
	}
	if len(p.Skipped) > 0 {
		parts = append(parts, text.F("%d fehlerhafte Einträge des Caches werden übersprungen", len(p.Skipped)))
	}
	if len(parts) == 0 {
		return text.T("Nichts zu tun.")
	}
	return strings.Join(parts, ", ")
}

// PlanOptions change what a plan covers.
type PlanOptions struct {
	// OnlyChangedAfter, when set, leaves out items not yet exported that
	// were last changed in the practice software before it (the option
	// "only changes after the connection was set up").
	OnlyChangedAfter time.Time
	// FullCompare compares every field of every item; otherwise an item
	// whose cache row (geaendert_am) and settings are unchanged is skipped.
	FullCompare bool
}

// settingsFP fingerprints the settings that shape exported items.
// The disclosure settings count only when one is set, so that the
// fingerprint of the full text is the one from before they existed (no
// re-check of every item after the upgrade).
func settingsFP(s config.Settings) string {
	in := s.BodyFormat + "|" + s.DeadlinesTo + "|" + s.TodoListName
	disclosure := []string{s.AppointmentSubject, s.AppointmentLocation, s.AppointmentBody, s.DeadlineSubject, s.DeadlineBody,
		s.ResubmissionSubject, s.ResubmissionBody, s.ConfidentialSubject, fmt.Sprint(s.ContactsWithoutNotes), fmt.Sprint(s.ContactsWithoutPrivatePhones),
		s.DeadlineShowAs, s.ResubmissionShowAs}
	if slices.ContainsFunc(disclosure, func(v string) bool { return v != "" && v != "false" }) {
		in += "|" + strings.Join(disclosure, "|")
	}
	sum := sha256.Sum256([]byte(in))
	return hex.EncodeToString(sum[:8])
}

func modifiedStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Desired builds every item a worker should have in Microsoft 365.
func (e *Exporter) Desired(ctx context.Context, w config.Worker, cacheID string) ([]Item, []source.RowError, error) {
	items, _, skipped, err := e.desired(ctx, w, cacheID, nil, true)
	return items, skipped, err
}

// sourceKind is one table of the cache and the mapping keys its rows become.
type sourceKind struct {
	table string
	keys  func(id int64) []string // the first key decides; the others are optional
}

// kinds lists what a worker's modules and the settings export.
func (e *Exporter) kinds(w config.Worker) []sourceKind {
	var out []sourceKind
	one := func(kind, prefix string) func(int64) []string {
		return func(id int64) []string { return []string{fmt.Sprintf("%s/%s:%d", kind, prefix, id)} }
	}
	if w.Has(config.Calendar) {
		out = append(out, sourceKind{"termin", one(Event, "termin")})
	}
	switch {
	case e.Settings.DeadlinesTo == "todo" && w.Has(config.Tasks):
		out = append(out, sourceKind{"frist", one(Task, "frist")}, sourceKind{"wiedervorlage", one(Task, "wiedervorlage")})
	case e.Settings.DeadlinesTo == "calendar" && w.Has(config.Calendar):
		out = append(out, sourceKind{"frist", func(id int64) []string {
			return []string{fmt.Sprintf("event/frist:%d", id), fmt.Sprintf("event/vorfrist:%d", id)}
		}}, sourceKind{"wiedervorlage", one(Event, "wiedervorlage")})
	}
	if w.Has(config.Contacts) {
		out = append(out, sourceKind{"adresse", one(Contact, "adresse")})
	}
	return out
}

// desired reads the cache. Without full, rows whose geaendert_am and the
// settings match their mappings are not read again: their keys come back
// in unchanged, and only the other rows become items.
func (e *Exporter) desired(ctx context.Context, w config.Worker, cacheID string, maps map[string]store.Mapping, full bool) ([]Item, map[string]bool, []source.RowError, error) {
	fp := settingsFP(e.Settings)
	unchanged := map[string]bool{}
	var items []Item
	var skipped []source.RowError
	children := childIndex(maps)
	for _, k := range e.kinds(w) {
		var ids []int64 // nil: read every row
		if !full {
			stamps, err := e.Cache.Stamps(ctx, k.table, cacheID)
			if err != nil {
				return nil, nil, nil, err
			}
			ids = []int64{}
			for id, mod := range stamps {
				keys := k.keys(id)
				m, ok := maps[keys[0]]
				if ok && !m.Pending() && m.SettingsFP == fp && m.SourceModified != "" && m.SourceModified == modifiedStamp(mod) {
					for _, key := range keys {
						if _, ok := maps[key]; ok {
							unchanged[key] = true
						}
						for _, child := range children[key] {
							if strings.Contains(child, "@") {
								unchanged[child] = true // a cancelled occurrence of the unchanged series
							}
						}
					}
					continue
				}
				ids = append(ids, id)
			}
			if len(ids) == 0 {
				continue
			}
			if len(ids) > 5000 {
				ids = nil // many changed rows: one pass over the table is cheaper
			}
		}
		got, bad, err := e.readKind(ctx, k.table, cacheID, ids)
		if err != nil {
			return nil, nil, nil, err
		}
		items = append(items, got...)
		skipped = append(skipped, bad...)
	}
	return items, unchanged, skipped, nil
}

func (e *Exporter) readKind(ctx context.Context, table, cacheID string, ids []int64) ([]Item, []source.RowError, error) {
	var items []Item
	switch table {
	case "termin":
		apps, bad, err := e.Cache.AppointmentsByID(ctx, cacheID, ids)
		for _, a := range apps {
			items = append(items, appointmentItems(a, e.Settings)...)
		}
		return items, bad, err
	case "frist":
		ds, bad, err := e.Cache.DeadlinesByID(ctx, cacheID, ids)
		for _, d := range ds {
			items = append(items, deadlineItems(d, e.Settings)...)
		}
		return items, bad, err
	case "wiedervorlage":
		rs, bad, err := e.Cache.ResubmissionsByID(ctx, cacheID, ids)
		for _, r := range rs {
			items = append(items, resubmissionItem(r, e.Settings))
		}
		return items, bad, err
	case "adresse":
		as, bad, err := e.Cache.SubscribedAddressesByID(ctx, cacheID, ids)
		for _, a := range as {
			items = append(items, addressItem(a, e.Settings))
		}
		return items, bad, err
	}
	return nil, nil, fmt.Errorf("export: unknown table %s", table)
}

// Plan compares the desired items with the mapping.
func (e *Exporter) Plan(ctx context.Context, w config.Worker, cacheID string, o PlanOptions) (*Plan, error) {
	maps, err := e.Store.Mappings(ctx, w.UPN)
	if err != nil {
		return nil, err
	}
	return e.plan(ctx, w, cacheID, maps, o)
}

func (e *Exporter) plan(ctx context.Context, w config.Worker, cacheID string, maps map[string]store.Mapping, o PlanOptions) (*Plan, error) {
	items, unchanged, skipped, err := e.desired(ctx, w, cacheID, maps, o.FullCompare)
	if err != nil {
		return nil, err
	}
	fp := settingsFP(e.Settings)
	p := &Plan{Worker: w.UPN, Adjusted: map[string]string{}}
	for _, s := range skipped {
		if s.Adjusted {
			p.Adjusted[s.Table+":"+s.ID] = s.Reason
		} else {
			p.Skipped = append(p.Skipped, s)
		}
	}
	skipped = p.Skipped
	want := unchanged
	// A row that cannot be read this time (journaled as skipped) still
	// exists: what it became in Microsoft 365 stays until it is fixed.
	children := childIndex(maps)
	for _, k := range e.kinds(w) {
		for _, s := range skipped {
			if id, err := strconv.ParseInt(s.ID, 10, 64); err == nil && s.Table == k.table {
				for _, key := range k.keys(id) {
					want[key] = true
					for _, child := range children[key] {
						want[child] = true
					}
				}
			}
		}
	}
	var compare []Item
	for _, it := range items {
		want[it.Key] = true
		m, ok := maps[it.Key]
		switch {
		case !ok || m.Pending():
			if !ok && !o.OnlyChangedAfter.IsZero() && it.Modified.Before(o.OnlyChangedAfter) {
				continue
			}
			p.Ops = append(p.Ops, Op{Action: "create", Item: it, Mapping: m})
		case !o.FullCompare && m.SettingsFP == fp && m.SourceModified != "" && m.SourceModified == modifiedStamp(it.Modified):
			// unchanged row, unchanged settings: nothing to compare
		default:
			compare = append(compare, it)
		}
	}
	if len(compare) > 0 {
		keys := make([]string, len(compare))
		for i, it := range compare {
			keys[i] = it.Key
		}
		hashes, err := e.Store.FieldHashes(ctx, w.UPN, keys)
		if err != nil {
			return nil, err
		}
		for _, it := range compare {
			m := maps[it.Key]
			m.Hashes = hashes[it.Key]
			if m.Hashes == nil {
				m.Hashes = map[string]string{}
			}
			if ch := it.changed(m.Hashes); len(ch) > 0 {
				sort.Strings(ch)
				p.Ops = append(p.Ops, Op{Action: "update", Item: it, Mapping: m, Fields: ch})
			}
		}
	}
	for key, m := range maps {
		kind, sk, _ := strings.Cut(key, "/")
		// A module that is switched off is left alone: its items stay in
		// Microsoft 365 and their mappings stay, so switching it on again
		// resumes without doubles.
		if !want[key] && kind != "list" && kind != categoryKind && w.Has(moduleOf(kind)) {
			p.Ops = append(p.Ops, Op{Action: "delete", Item: Item{Key: key, Kind: kind, SourceKey: sk}, Mapping: m})
		}
	}
	if err := e.planSeries(ctx, w, cacheID, p, maps, items, want); err != nil {
		return nil, err
	}
	sort.SliceStable(p.Ops, func(i, j int) bool { return p.Ops[i].Item.Key < p.Ops[j].Item.Key })
	return p, nil
}

// MappingFor is the mapping a successful create of an item records.
func (e *Exporter) MappingFor(worker string, it Item, graphID, containerID string) store.Mapping {
	hashes := it.Hashes()
	if fp, ok := sentBodyFP(it); ok {
		hashes[bodySentKey] = fp
	}
	return store.Mapping{Worker: worker, ItemKey: it.Key, GraphID: graphID, ContainerID: containerID, Hashes: hashes,
		Updated: e.now(), SourceModified: modifiedStamp(it.Modified), SettingsFP: settingsFP(e.Settings)}
}

// ErrPartial means some operations failed; they are in the journal and
// are tried again in the next cycle.
var ErrPartial = errors.New("export: some items failed")

// Result counts what a cycle did.
type Result struct {
	Created, Updated, Deleted, Recreated, Adopted, Failed, Skipped int
	// Cancelled counts occurrences of series cancelled in Outlook.
	Cancelled int
	// SeriesRecreated counts series created anew because one of their
	// occurrences went back to the rule.
	SeriesRecreated int
	// Held counts the deletions the guard held back.
	Held int
	// ListsRenamed counts To Do lists renamed to the firm's setting.
	ListsRenamed int
}

// Run plans and applies one cycle for a worker. fullCheck also compares the
// mapping with what is in Microsoft 365 (items deleted there are created
// again); it is done anyway when the mapping is empty or has pending creates.
func (e *Exporter) Run(ctx context.Context, c *graph.Client, w config.Worker, cacheID string, fullCheck bool, o PlanOptions) (Result, error) {
	var res Result
	c.RememberHoldOffs(ctx, e.Store, w.UPN)
	maps, err := e.Store.Mappings(ctx, w.UPN)
	if err != nil {
		return res, err
	}
	needCheck := fullCheck || len(maps) == 0
	for _, m := range maps {
		if m.Pending() {
			needCheck = true
		}
	}
	mb := "/users/" + url.PathEscape(w.UPN)
	listID := ""
	e.listRenamed = false
	if e.Settings.DeadlinesTo == "todo" && w.Has(config.Tasks) {
		if listID, err = e.ensureList(ctx, c, w, mb, maps, needCheck); err != nil {
			return res, err
		}
		if e.listRenamed {
			res.ListsRenamed = 1
		}
	}
	if needCheck {
		n, err := e.reconcile(ctx, c, w, mb, listID)
		if err != nil {
			return res, err
		}
		res.Adopted = n
	}
	if needCheck {
		// the adopted and re-checked mappings changed: read them again
		if maps, err = e.Store.Mappings(ctx, w.UPN); err != nil {
			return res, err
		}
		o.FullCompare = true
	}
	p, err := e.plan(ctx, w, cacheID, maps, o)
	if err != nil {
		return res, err
	}
	var journal []store.JournalEntry
	for _, s := range p.Skipped {
		res.Skipped++
		journal = append(journal, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: s.Table + ":" + s.ID, Action: "skip", Result: "error", Error: s.Reason})
	}
	if err := e.Store.Journal(ctx, journal...); err != nil {
		return res, err
	}
	heldBefore, err := e.Store.HeldDeletions(ctx, w.UPN)
	if err != nil {
		return res, err
	}
	released := map[string]bool{}
	wasHeld := map[string]bool{}
	for _, h := range heldBefore {
		wasHeld[h.ItemKey] = true
		if h.Released() {
			released[h.ItemKey] = true
		}
	}
	ops, held, reason, err := e.guard(ctx, w.UPN, cacheID, maps, p.Ops, released)
	if err != nil {
		return res, err
	}
	if ops, err = e.keepOutlookBodies(ctx, c, w, mb, ops); err != nil {
		return res, err
	}
	if err := e.ensureCategories(ctx, c, w, mb, ops, maps); err != nil {
		return res, err
	}
	total := map[string]int{}
	for _, op := range ops {
		total[op.Item.Kind]++
	}
	done := map[string]int{}
	e.progress = func(part []Op) {
		for _, op := range part {
			done[op.Item.Kind]++
		}
		if e.OnChunk != nil {
			e.OnChunk(done, total)
		}
	}
	e.failedDeletes, e.adjusted = nil, p.Adjusted
	var plain, occurrences []Op
	for _, op := range ops {
		if op.Item.Series != "" {
			occurrences = append(occurrences, op) // after their series
		} else {
			plain = append(plain, op)
		}
	}
	if err = e.apply(ctx, c, w, mb, listID, plain, &res); err != nil {
		return res, err
	}
	if err = e.applyChildren(ctx, c, w, mb, occurrences, &res); err != nil {
		return res, err
	}
	said := ""
	if reason != nil {
		said = reason()
	}
	if err := e.recordHeld(ctx, w.UPN, held, heldBefore, wasHeld, released, e.failedDeletes, said); err != nil {
		return res, err
	}
	res.Held = len(held)
	if res.Held > 0 {
		since := e.now()
		for _, h := range heldBefore {
			if h.HeldAt.Before(since) {
				since = h.HeldAt
			}
		}
		return res, &HeldError{Worker: w.UPN, Count: res.Held, Reason: reason(), Since: since, why: reason}
	}
	if res.Failed > 0 {
		return res, ErrPartial
	}
	return res, nil
}

// recordHeld stores the cycle's held deletions and journals those held
// for the first time. It writes nothing when nothing is or was held.
func (e *Exporter) recordHeld(ctx context.Context, worker string, held []Op, before []store.HeldDeletion, wasHeld, released map[string]bool, failed []string, reason string) error {
	if len(held) == 0 && len(before) == 0 {
		return nil
	}
	keys := make([]string, len(held))
	var journal []store.JournalEntry
	for i, op := range held {
		keys[i] = op.Item.Key
		if !wasHeld[op.Item.Key] {
			journal = append(journal, store.JournalEntry{At: e.now(), Worker: worker, ItemKey: op.Item.Key, Action: "delete", Result: "held", Error: reason})
		}
	}
	var keep []string
	for _, k := range failed {
		if released[k] {
			keep = append(keep, k) // released, failed: tried again next cycle without asking again
		}
	}
	if err := e.Store.SetHeldDeletions(ctx, worker, keys, keep, reason, e.now()); err != nil {
		return err
	}
	return e.Store.Journal(ctx, journal...)
}

func (e *Exporter) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Exporter) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Exporter) collection(kind, mb, listID string) string {
	switch kind {
	case Event:
		return mb + "/events"
	case Contact:
		return mb + "/contacts"
	}
	return mb + "/todo/lists/" + url.PathEscape(listID) + "/tasks"
}

// transactionID is the same for every attempt to create one item, so a
// retried or repeated POST never makes a second event.
func (e *Exporter) transactionID(worker, key string) string {
	sum := sha256.Sum256([]byte(e.Installation + "|" + strings.ToLower(worker) + "|" + key))
	return "ks-" + hex.EncodeToString(sum[:16])
}

// createBody is the full item with its source key.
func (e *Exporter) createBody(w config.Worker, it Item) map[string]any {
	fields := it.Fields()
	b := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		b[k] = v
	}
	switch it.Kind {
	case Task:
		b["linkedResources"] = []any{map[string]any{"applicationName": linkedApp, "displayName": "kanzleisync " + it.SourceKey, "externalId": it.SourceKey}}
	default:
		b["singleValueExtendedProperties"] = []any{map[string]any{"id": SourceKeyProperty, "value": it.SourceKey}}
	}
	if it.Kind == Event {
		b["transactionId"] = e.transactionID(w.UPN, it.Key+it.txSuffix)
	}
	return b
}

// apply runs the operations in batches, recording pending creates before
// they are sent and their Graph ids after.
func (e *Exporter) apply(ctx context.Context, c *graph.Client, w config.Worker, mb, listID string, ops []Op, res *Result) error {
	// ten batches: enough to keep two in flight, few enough that a cancel
	// takes effect within a fraction of a second
	const chunk = 10 * graph.MaxBatch
	for start := 0; start < len(ops); start += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := ops[start:min(start+chunk, len(ops))]
		reqs := make([]graph.Request, len(part))
		var pending []store.Mapping
		for i, op := range part {
			id := fmt.Sprint(i)
			switch op.Action {
			case "create":
				pending = append(pending, store.Mapping{Worker: w.UPN, ItemKey: op.Item.Key, ContainerID: listID, Hashes: map[string]string{}, PendingTx: op.Item.SourceKey, Updated: e.now()})
				reqs[i] = graph.Request{ID: id, Method: http.MethodPost, URL: e.collection(op.Item.Kind, mb, listID), Body: e.createBody(w, op.Item)}
			case "update":
				body := map[string]any{}
				for _, f := range op.Fields {
					body[f] = op.Item.Fields()[f]
				}
				reqs[i] = graph.Request{ID: id, Method: http.MethodPatch, URL: e.collection(op.Item.Kind, mb, op.Mapping.ContainerID) + "/" + url.PathEscape(op.Mapping.GraphID), Body: body}
			case "delete", "recreate":
				reqs[i] = graph.Request{ID: id, Method: http.MethodDelete, URL: e.collection(op.Item.Kind, mb, op.Mapping.ContainerID) + "/" + url.PathEscape(op.Mapping.GraphID)}
			}
		}
		// pending before sending: after a crash, reconcile looks for these
		if err := e.Store.PutMappings(ctx, pending...); err != nil {
			return err
		}
		answers := c.Batch(ctx, reqs)
		var journal []store.JournalEntry
		var done []store.Mapping
		var recreate []Op
		var reseries []Op // series deleted to be created anew (not deleted in Outlook)
		for i, op := range part {
			a := answers[i]
			entry := store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: op.Item.Key, Title: op.Item.Title(), Action: op.Action, Result: "ok", RequestID: a.RequestID}
			var ge *graph.Error
			gone := errors.As(a.Err, &ge) && ge.Status == http.StatusNotFound
			switch {
			case op.Action == "create" && a.OK():
				var created struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(a.Body, &created)
				done = append(done, e.MappingFor(w.UPN, op.Item, created.ID, listID))
				res.Created++
			case op.Action == "update" && a.OK():
				done = append(done, e.updatedMapping(op))
				res.Updated++
			case op.Action == "update" && gone:
				// deleted in Microsoft 365: create it again
				if err := e.Store.DeleteMapping(ctx, w.UPN, op.Item.Key); err != nil {
					return err
				}
				recreate = append(recreate, Op{Action: "create", Item: op.Item})
				entry.Action, entry.Result = "recreate", "ok"
			case op.Action == "delete" && (a.OK() || gone):
				if err := e.Store.DeleteMapping(ctx, w.UPN, op.Item.Key); err != nil {
					return err
				}
				res.Deleted++
			case op.Action == "recreate" && (a.OK() || gone):
				// a series back to its rule: deleted, and created again below
				if err := e.Store.DeleteMapping(ctx, w.UPN, op.Item.Key); err != nil {
					return err
				}
				it := op.Item
				it.txSuffix = "|" + op.Mapping.GraphID
				reseries = append(reseries, Op{Action: "create", Item: it})
				entry.Error = text.T("Serie neu angelegt: Outlook kann einen einzelnen abgesagten oder geänderten Termin nicht zurücknehmen.")
			default:
				if op.Action == "delete" {
					e.failedDeletes = append(e.failedDeletes, op.Item.Key)
				}
				entry.Result = "error"
				if a.Err != nil {
					entry.Error = a.Err.Error()
				}
				if ge != nil {
					entry.RequestID = ge.RequestID
				}
				res.Failed++
			}
			if entry.Result == "ok" {
				for _, k := range op.forget {
					if err := e.Store.DeleteMapping(ctx, w.UPN, k); err != nil {
						return err
					}
				}
			}
			journal = append(journal, entry)
			if note, ok := e.adjusted[adjustedKey(op.Item.SourceKey)]; ok && entry.Result == "ok" && (op.Action == "create" || op.Action == "update") {
				// said once: when the repaired row is sent, not every cycle that reads it
				journal = append(journal, store.JournalEntry{At: entry.At, Worker: w.UPN, ItemKey: op.Item.Key, Title: entry.Title, Action: "adjust", Result: "ok", Error: note})
			}
		}
		if err := e.record(ctx, done, journal, part); err != nil {
			return err
		}
		if len(recreate) > 0 {
			res.Recreated += len(recreate)
			if err := e.apply(ctx, c, w, mb, listID, recreate, res); err != nil {
				return err
			}
			res.Created -= len(recreate)
		}
		if len(reseries) > 0 {
			before := res.Created
			if err := e.apply(ctx, c, w, mb, listID, reseries, res); err != nil {
				return err
			}
			res.SeriesRecreated += res.Created - before
			res.Created = before
		}
	}
	return nil
}

// record stores what a chunk of operations did and reports the progress.
func (e *Exporter) record(ctx context.Context, done []store.Mapping, journal []store.JournalEntry, part []Op) error {
	if err := e.Store.PutMappings(ctx, done...); err != nil {
		return err
	}
	if err := e.Store.Journal(ctx, journal...); err != nil {
		return err
	}
	if e.progress != nil {
		e.progress(part)
	}
	return nil
}

// adjustedKey is the "table:id" of Plan.Adjusted for a source key.
func adjustedKey(sourceKey string) string {
	t, id := tableOf(sourceKey)
	return t + ":" + strconv.FormatInt(id, 10)
}

// moduleOf is the module whose switch governs items of a target kind.
func moduleOf(kind string) config.Module {
	switch kind {
	case Task:
		return config.Tasks
	case Contact:
		return config.Contacts
	}
	return config.Calendar
}
