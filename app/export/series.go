package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/graph"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Serientermine. A series row becomes one event with a recurrence (the
// series master, key event/termin:ID). Its occurrences are not items of
// their own in Outlook until one is changed or cancelled; kanzleisync
// keeps a mapping per occurrence it touched — its children:
//   - a cancelled occurrence (EXDATE), key event/termin:ID@YYYY-MM-DD: the
//     instance is deleted;
//   - a changed occurrence (its own row pointing at the series), key
//     event/termin:ROW: the instance is PATCHed.
// Children's mappings carry ContainerID "serie:" + the master's key.
//
// Outlook drops a series' exceptions when its pattern or its time
// changes, and cannot bring a single cancelled occurrence back. So:
//   - a master update that changes recurrence, start, end or isAllDay
//     applies every child again (each step is idempotent: a cancelled
//     occurrence that is gone stays gone, a PATCH sets the same values);
//   - a child that is no longer wanted (an EXDATE removed, a changed
//     occurrence's row deleted) re-creates the series: the master is
//     deleted and created again, and the remaining children applied;
//   - a series ended early (UNTIL or COUNT smaller) is only PATCHed: the
//     occurrences after the new end go, the others keep their changes.

// childPrefix marks a child's mapping (ContainerID) with its master key.
const childPrefix = "serie:"

// noInstance is the GraphID of a cancelled occurrence's mapping when the
// series had no occurrence left that day (cancelled before a crash).
const noInstance = "-"

// seriesFields are the master's fields whose change makes Outlook drop
// the series' exceptions.
var seriesFields = []string{"recurrence", "start", "end", "isAllDay"}

var graphDays = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// recurrenceOf is a series rule as Graph's patternedRecurrence.
func recurrenceOf(a source.Appointment) map[string]any {
	r := a.Rule
	p := map[string]any{"interval": r.Interval}
	days := func() []any {
		out := make([]any, len(r.Days))
		for i, d := range r.Days {
			out[i] = graphDays[d]
		}
		return out
	}
	index := map[int]string{1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}[r.Ordinal]
	switch {
	case r.Freq == "DAILY":
		p["type"] = "daily"
	case r.Freq == "WEEKLY":
		p["type"], p["daysOfWeek"], p["firstDayOfWeek"] = "weekly", days(), graphDays[r.WeekStart]
	case r.Freq == "MONTHLY" && r.Ordinal != 0:
		p["type"], p["daysOfWeek"], p["index"] = "relativeMonthly", days(), index
	case r.Freq == "MONTHLY":
		p["type"], p["dayOfMonth"] = "absoluteMonthly", r.MonthDay
	case r.Ordinal != 0:
		p["type"], p["daysOfWeek"], p["index"], p["month"] = "relativeYearly", days(), index, int(r.Month)
	default:
		p["type"], p["dayOfMonth"], p["month"] = "absoluteYearly", r.MonthDay, int(r.Month)
	}
	rg := map[string]any{"startDate": a.Start.Format("2006-01-02"), "recurrenceTimeZone": windowsBerlin}
	switch {
	case r.Count > 0:
		rg["type"], rg["numberOfOccurrences"] = "numbered", r.Count
	case r.Until != nil:
		rg["type"], rg["endDate"] = "endDate", r.Until.String()
	default:
		rg["type"] = "noEnd"
	}
	return map[string]any{"pattern": p, "range": rg}
}

// cancelItem is a cancelled occurrence of a series.
func cancelItem(a source.Appointment, d source.Date) Item {
	key := fmt.Sprintf("termin:%d@%s", a.ID, d)
	it := newItem(Event, key, a.Modified, func() map[string]any { return map[string]any{"cancelled": d.String()} })
	it.Series = fmt.Sprintf("%s/termin:%d", Event, a.ID)
	it.CancelDay = d
	it.title = text.F("Ausfall am %s", germanDate(d))
	return it
}

// appointmentItems are a Termin's items: the event, and for a series its
// cancelled occurrences.
func appointmentItems(a source.Appointment, s config.Settings) []Item {
	it := appointmentItem(a, s)
	if a.SeriesID != 0 {
		it.Series = fmt.Sprintf("%s/termin:%d", Event, a.SeriesID)
		it.Original = a.OriginalStart
	}
	out := []Item{it}
	for _, d := range a.Cancelled {
		out = append(out, cancelItem(a, d))
	}
	return out
}

// masterOf is the master key of a child mapping ("" for none).
func masterOf(m store.Mapping) string {
	k, ok := strings.CutPrefix(m.ContainerID, childPrefix)
	if !ok {
		return ""
	}
	return k
}

// childIndex lists the child mappings by master key.
func childIndex(maps map[string]store.Mapping) map[string][]string {
	out := map[string][]string{}
	for key, m := range maps {
		if master := masterOf(m); master != "" {
			out[master] = append(out[master], key)
		}
	}
	return out
}

// planSeries turns the plain plan into one that respects Outlook's
// series rules (see the top of this file).
func (e *Exporter) planSeries(ctx context.Context, w config.Worker, cacheID string, p *Plan, maps map[string]store.Mapping, items []Item, want map[string]bool) error {
	children := childIndex(maps)
	hasSeries := len(children) > 0
	for _, it := range items {
		if it.Series != "" || it.isMaster() {
			hasSeries = true
			break
		}
	}
	if !hasSeries {
		return nil
	}
	byKey := map[string]Item{}
	for _, it := range items {
		byKey[it.Key] = it
	}
	reapply, reset := map[string]bool{}, map[string]bool{}
	deleting := map[string]bool{}
	for _, op := range p.Ops {
		if op.Action == "delete" && masterOf(op.Mapping) == "" {
			deleting[op.Item.Key] = true
		}
	}
	var ops []Op
	for _, op := range p.Ops {
		master := masterOf(op.Mapping)
		if op.Action == "create" && op.Item.Series != "" {
			master = op.Item.Series
		}
		switch {
		case op.Action == "delete" && master != "":
			// a child no longer wanted: the series goes back to its rule
			if !deleting[master] && want[master] {
				reset[master] = true
			}
			continue
		case op.Action == "delete" && len(children[op.Item.Key]) > 0:
			op.forget = children[op.Item.Key] // Outlook deletes the occurrences with the master
		case op.Action == "update" && op.Item.Series == "" && slices.Contains(op.Fields, "recurrence") && !op.Item.isMaster():
			// a series became a single Termin: Graph turns no master back
			// into a single event, so it is created anew
			reset[op.Item.Key] = true
		case op.Action == "update" && slices.Contains(op.Fields, originalKey):
			// a changed occurrence now stands for another occurrence: the
			// old one goes back to the rule, the series is created anew
			reset[op.Item.Series] = true
			continue
		case op.Action == "update" && len(children[op.Item.Key]) > 0 && slices.ContainsFunc(op.Fields, func(f string) bool { return slices.Contains(seriesFields, f) || f == "sensitivity" }):
			// (a series marked confidential: its changed occurrences are
			// confidential too, and are sent again)
			reapply[op.Item.Key] = true
		}
		ops = append(ops, op)
	}
	p.Ops = ops
	for master := range reset {
		reapply[master] = true
		if m, ok := maps[master]; !ok || m.Pending() {
			// not (yet) in Outlook: its create makes it as it is now
			delete(reset, master)
		}
	}
	if len(reapply) > 0 {
		// the items of the series to apply again that this cycle did not read
		var ids []int64
		for master := range reapply {
			keys := append([]string{master}, children[master]...)
			for _, k := range keys {
				if _, read := byKey[k]; !read && !strings.Contains(k, "@") && want[k] {
					_, id := tableOf(strings.TrimPrefix(k, Event+"/"))
					ids = append(ids, id)
				}
			}
		}
		if len(ids) > 0 {
			more, _, err := e.readKind(ctx, "termin", cacheID, ids)
			if err != nil {
				return err
			}
			for _, it := range more {
				if _, ok := byKey[it.Key]; !ok {
					byKey[it.Key] = it
					items = append(items, it)
				}
			}
		}
		ops = p.Ops[:0:0]
		for _, op := range p.Ops {
			series := op.Item.Series
			if series == "" {
				series = masterOf(op.Mapping)
			}
			if reapply[series] {
				continue // planned again below
			}
			if reset[op.Item.Key] {
				continue
			}
			if reapply[op.Item.Key] {
				op.forget = children[op.Item.Key]
			}
			ops = append(ops, op)
		}
		for master := range reset {
			it, ok := byKey[master]
			if !ok {
				continue // not readable this cycle: the series stays as it is
			}
			ops = append(ops, Op{Action: "recreate", Item: it, Mapping: maps[master], forget: children[master]})
		}
		for _, it := range items {
			if it.Series != "" && reapply[it.Series] {
				ops = append(ops, Op{Action: "create", Item: it, Mapping: maps[it.Key]})
			}
		}
		p.Ops = ops
	}
	// a changed occurrence needs its series: in Outlook, or created now
	creating := map[string]bool{}
	for _, op := range p.Ops {
		if op.Action == "create" || op.Action == "recreate" {
			creating[op.Item.Key] = true
		}
	}
	ops = p.Ops[:0:0]
	for _, op := range p.Ops {
		m, mapped := maps[op.Item.Series]
		if op.Item.Series != "" && op.Action == "create" && !creating[op.Item.Series] && (!mapped || m.Pending()) {
			_, id := tableOf(op.Item.SourceKey)
			_, sid := tableOf(strings.TrimPrefix(op.Item.Series, Event+"/"))
			p.Skipped = append(p.Skipped, source.RowError{Table: "termin", ID: fmt.Sprint(id),
				Reason: text.F("gehört zur Serie %d, die nicht übertragen wird (sie fehlt, ist fehlerhaft oder gehört einem anderen Sachbearbeiter)", sid)})
			continue
		}
		ops = append(ops, op)
	}
	p.Ops = ops
	return nil
}

// isMaster: the item is a series master.
func (it Item) isMaster() bool {
	if it.Kind != Event || it.Series != "" || it.fields == nil {
		return false
	}
	_, ok := it.Fields()["recurrence"]
	return ok
}

// applyChildren applies the operations on occurrences, after their
// masters: it finds each occurrence by its original day among the
// master's instances, then deletes (cancelled) or PATCHes (changed) it.
func (e *Exporter) applyChildren(ctx context.Context, c *graph.Client, w config.Worker, mb string, ops []Op, res *Result) error {
	if len(ops) == 0 {
		return nil
	}
	maps, err := e.Store.Mappings(ctx, w.UPN)
	if err != nil {
		return err
	}
	var journal []store.JournalEntry
	var done []store.Mapping
	fail := func(op Op, requestID, msg string) {
		journal = append(journal, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: op.Item.Key, Title: op.Item.Title(), Action: op.Action, Result: "error", Error: msg, RequestID: requestID})
		res.Failed++
	}
	type step struct {
		op     Op
		master string // the master's Graph id
		lookup int    // index in lookups, -1 for none
	}
	var steps []step
	var lookups []graph.Request
	for _, op := range ops {
		m, ok := maps[op.Item.Series]
		if !ok || m.Pending() {
			fail(op, "", text.T("Die Serie ist noch nicht in Outlook angelegt; der Termin folgt, sobald sie es ist."))
			continue
		}
		s := step{op: op, master: m.GraphID, lookup: -1}
		if op.Action == "create" {
			day := op.Item.originalDay()
			from := day.Midnight(source.Berlin).AddDate(0, 0, -31)
			to := day.Midnight(source.Berlin).AddDate(0, 0, 32)
			q := url.Values{"startDateTime": {from.Format(time.RFC3339)}, "endDateTime": {to.Format(time.RFC3339)},
				"$select": {"id,originalStart,type"}, "$top": {"100"}}
			s.lookup = len(lookups)
			lookups = append(lookups, graph.Request{ID: fmt.Sprint(len(lookups)), Method: http.MethodGet,
				URL: mb + "/events/" + url.PathEscape(m.GraphID) + "/instances?" + q.Encode()})
		}
		steps = append(steps, s)
	}
	answers := c.Batch(ctx, lookups)
	var reqs []graph.Request
	var sent []step
	var instanceIDs []string
	for _, s := range steps {
		op := s.op
		id := ""
		if s.lookup >= 0 {
			a := answers[s.lookup]
			if !a.OK() {
				fail(op, a.RequestID, fmt.Sprint(a.Err))
				continue
			}
			id = findOccurrence(a.Body, op.Item.originalDay())
		} else {
			id = op.Mapping.GraphID
		}
		if id == "" && op.Item.CancelDay == (source.Date{}) {
			// a changed occurrence moved more than a month away from its
			// original day (PATCHed before a crash, not recorded): the
			// series' instances two years either side
			id = e.findFar(ctx, c, mb, s.master, op.Item.originalDay())
		}
		switch {
		case op.Item.CancelDay != (source.Date{}) && id == "":
			// no occurrence that day (any more): nothing to cancel
			done = append(done, e.childMapping(w.UPN, op.Item, noInstance))
			journal = append(journal, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: op.Item.Key, Title: op.Item.Title(), Action: "cancel", Result: "ok"})
			res.Cancelled++
			continue
		case id == "":
			fail(op, "", text.F("Die Serie hat am %s keinen Termin; die Änderung dieses Termins kann nicht übertragen werden.", germanDate(op.Item.originalDay())))
			continue
		case op.Item.CancelDay != (source.Date{}):
			reqs = append(reqs, graph.Request{ID: fmt.Sprint(len(reqs)), Method: http.MethodDelete, URL: mb + "/events/" + url.PathEscape(id)})
		default:
			body := map[string]any{}
			fields := op.Fields
			if op.Action == "create" {
				fields = nil
				for k := range op.Item.Fields() {
					fields = append(fields, k)
				}
			}
			for _, f := range fields {
				if f != originalKey {
					body[f] = op.Item.Fields()[f]
				}
			}
			reqs = append(reqs, graph.Request{ID: fmt.Sprint(len(reqs)), Method: http.MethodPatch, URL: mb + "/events/" + url.PathEscape(id), Body: body})
		}
		sent = append(sent, s)
		instanceIDs = append(instanceIDs, id)
	}
	var again []Op
	for i, a := range c.Batch(ctx, reqs) {
		op := sent[i].op
		var ge *graph.Error
		gone := errors.As(a.Err, &ge) && ge.Status == http.StatusNotFound
		action := "update"
		if op.Item.CancelDay != (source.Date{}) {
			action = "cancel"
		}
		switch {
		case a.OK() || action == "cancel" && gone:
			done = append(done, e.childMapping(w.UPN, op.Item, instanceIDs[i]))
			journal = append(journal, store.JournalEntry{At: e.now(), Worker: w.UPN, ItemKey: op.Item.Key, Title: op.Item.Title(), Action: action, Result: "ok", RequestID: a.RequestID})
			if action == "cancel" {
				res.Cancelled++
			} else {
				res.Updated++
			}
		case gone && op.Action == "update":
			again = append(again, Op{Action: "create", Item: op.Item}) // the occurrence's id changed: find it again
		default:
			fail(op, a.RequestID, fmt.Sprint(a.Err))
		}
	}
	if err := e.record(ctx, done, journal, ops); err != nil {
		return err
	}
	if len(again) > 0 {
		return e.applyChildren(ctx, c, w, mb, again, res)
	}
	return nil
}

// findFar looks for the occurrence with the original day among a
// series' instances two years either side of it.
func (e *Exporter) findFar(ctx context.Context, c *graph.Client, mb, master string, day source.Date) string {
	from := day.Midnight(source.Berlin).AddDate(-2, 0, 0)
	q := url.Values{"startDateTime": {from.Format(time.RFC3339)}, "endDateTime": {from.AddDate(4, 0, 1).Format(time.RFC3339)},
		"$select": {"id,originalStart"}, "$top": {"500"}}
	pages, err := c.GetAll(ctx, mb+"/events/"+url.PathEscape(master)+"/instances?"+q.Encode())
	if err != nil {
		return ""
	}
	for _, raw := range pages {
		if id := findOccurrence([]byte(`{"value":[`+string(raw)+`]}`), day); id != "" {
			return id
		}
	}
	return ""
}

// childMapping is the mapping of an applied child.
func (e *Exporter) childMapping(worker string, it Item, instanceID string) store.Mapping {
	return e.MappingFor(worker, it, instanceID, childPrefix+it.Series)
}

// originalDay is the day a child's occurrence has in the series.
func (it Item) originalDay() source.Date {
	if it.CancelDay != (source.Date{}) {
		return it.CancelDay
	}
	t := it.Original.In(source.Berlin)
	return source.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
}

// findOccurrence picks from an instances answer the one whose original
// start falls on day in Europe/Berlin.
func findOccurrence(body []byte, day source.Date) string {
	var page struct {
		Value []struct {
			ID            string `json:"id"`
			OriginalStart string `json:"originalStart"`
		} `json:"value"`
	}
	_ = json.Unmarshal(body, &page)
	for _, v := range page.Value {
		t, err := time.Parse(time.RFC3339Nano, v.OriginalStart)
		if err != nil {
			continue
		}
		t = t.In(source.Berlin)
		if t.Year() == day.Year && t.Month() == day.Month && t.Day() == day.Day {
			return v.ID
		}
	}
	return ""
}
