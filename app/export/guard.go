package export

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// Guard decides when a cycle holds its deletions back instead of carrying
// them out (docs/export.md, "Schutz vor Massenlöschungen"). Only
// deletions whose cache row is gone count: an item that moves (Fristen
// from To Do into the calendar, a Vorfrist removed) has its row still in
// the cache and is explained.
type Guard struct {
	// Free deletions of one table per cycle are never held: a normal
	// day's handful.
	Free int
	// Share: more deletions than this share of a table's exported items
	// hold the cycle's deletions.
	Share float64
	// Max: more deletions than this in one cycle are held whatever the
	// share.
	Max int
}

// DefaultGuard is the guard a cycle uses when none is set.
var DefaultGuard = Guard{Free: 5, Share: 0.10, Max: 50}

// HeldError says that a cycle held deletions back.
type HeldError struct {
	Worker string
	Count  int
	Reason string    // why, as said when they were held (kept with them)
	Since  time.Time // when the first of them was held
	// why says Reason anew, in the current language
	why func() string
}

// Why says why the deletions were held, in the current language.
func (e *HeldError) Why() string {
	if e.why != nil {
		return e.why()
	}
	return e.Reason
}

func (e *HeldError) Error() string {
	return text.F("%s %s für %s zurückgehalten: es wurde nichts gelöscht. Bitte prüfen, ob der Cache der Kanzleisoftware vollständig ist (Pfad, Wiederherstellung). Sind die Löschungen gewollt, gibt ein Administrator sie frei: „Synchronisation“ → „Löschungen ausführen“ (oder: kanzleisync sync --once --confirm-deletions).",
		e.Why(), text.N(e.Count, "Löschung", "Löschungen"), e.Worker)
}

// tableOf is the cache table a source key comes from.
func tableOf(sourceKey string) (string, int64) {
	prefix, id, _ := strings.Cut(sourceKey, ":")
	id, _, _ = strings.Cut(id, "@") // a cancelled occurrence of a series
	n, _ := strconv.ParseInt(id, 10, 64)
	if prefix == "vorfrist" {
		prefix = "frist"
	}
	return prefix, n
}

// tableNames are the German plurals for the guard's reasons.
var tableNames = map[string]string{"termin": text.Mark("Termine"), "frist": text.Mark("Fristen"), "wiedervorlage": text.Mark("Wiedervorlagen"),
	"adresse": text.Mark("abonnierten Adressen")}

// guard splits a plan's deletions into those to carry out and those to
// hold. Deletions of rows that still exist in the cache (moved items) and
// deletions an administrator released are carried out unless the guard
// trips; when it trips, every deletion of the worker is held except the
// released ones. It costs nothing when the plan deletes nothing.
func (e *Exporter) guard(ctx context.Context, worker, cacheID string, maps map[string]store.Mapping, ops []Op, released map[string]bool) (run, held []Op, reason func() string, err error) {
	var deletes []Op
	for _, op := range ops {
		if op.Action == "delete" {
			deletes = append(deletes, op)
		} else {
			run = append(run, op)
		}
	}
	if len(deletes) == 0 {
		return run, nil, nil, nil
	}
	g := e.Guard
	if g == (Guard{}) {
		g = DefaultGuard
	}
	present := map[string]map[int64]time.Time{}
	unexplained := map[string]int{} // table → deletions whose row is gone
	for _, op := range deletes {
		if released[op.Item.Key] {
			continue
		}
		table, id := tableOf(op.Item.SourceKey)
		rows, ok := present[table]
		if !ok {
			if rows, err = e.Cache.Stamps(ctx, table, cacheID); err != nil {
				return nil, nil, nil, err
			}
			present[table] = rows
		}
		if _, ok := rows[id]; !ok {
			unexplained[table]++
		}
	}
	exported := map[string]int{}
	for key := range maps {
		if _, sk, ok := strings.Cut(key, "/"); ok && !strings.HasPrefix(key, "list/") {
			t, _ := tableOf(sk)
			exported[t]++
		}
	}
	// why, per table; said in words when it is read (the language may change)
	type why struct {
		table       string
		n, exported int
		empty, many bool
	}
	var whys []why
	for _, t := range heldOrder {
		n := unexplained[t]
		if n == 0 {
			continue
		}
		empty, err := e.Cache.Empty(ctx, t)
		if err != nil {
			return nil, nil, nil, err
		}
		if w := (why{t, n, exported[t], empty, n > g.Max}); empty || w.many || n > g.Free && float64(n) > g.Share*float64(exported[t]) {
			whys = append(whys, w)
		}
	}
	if len(whys) == 0 {
		return append(run, deletes...), nil, nil, nil
	}
	reason = func() string {
		var reasons, emptied []string
		for _, w := range whys {
			switch name := text.T(tableNames[w.table]); {
			case w.empty:
				emptied = append(emptied, text.F("%s (bisher %d exportiert)", name, w.exported))
			case w.many:
				reasons = append(reasons, text.F("%d %s fehlen plötzlich im Cache (mehr als %d auf einmal).", w.n, name, g.Max))
			default:
				reasons = append(reasons, text.F("%d von %d exportierten %s fehlen plötzlich im Cache (mehr als %.0f %%).", w.n, w.exported, name, g.Share*100))
			}
		}
		if len(emptied) > 0 {
			list := emptied[0]
			if n := len(emptied); n > 1 {
				list = text.F("%s und %s", strings.Join(emptied[:n-1], ", "), emptied[n-1])
			}
			reasons = append([]string{text.F("Der Cache enthält plötzlich keine %s mehr.", list)}, reasons...)
		}
		return strings.Join(reasons, " ")
	}
	for _, op := range deletes {
		if released[op.Item.Key] {
			run = append(run, op)
		} else {
			held = append(held, op)
		}
	}
	return run, held, reason, nil
}

// heldOrder is the order of the tables in reasons and lists.
var heldOrder = []string{"termin", "frist", "wiedervorlage", "adresse"}

// SortHeld orders held deletions for a person: by worker, then Termine,
// Fristen, Wiedervorlagen, Adressen, each by their number in the practice
// software.
func SortHeld(hs []store.HeldDeletion) {
	rank := func(h store.HeldDeletion) (string, int, int64) {
		_, sk, _ := strings.Cut(h.ItemKey, "/")
		t, id := tableOf(sk)
		r := slices.Index(heldOrder, t)
		if r < 0 {
			r = len(heldOrder)
		}
		return strings.ToLower(h.Worker), r, id
	}
	slices.SortStableFunc(hs, func(a, b store.HeldDeletion) int {
		wa, ra, ia := rank(a)
		wb, rb, ib := rank(b)
		return cmp.Or(strings.Compare(wa, wb), cmp.Compare(ra, rb), cmp.Compare(ia, ib))
	})
}

// ItemLabel names an exported item for a person, e.g. "Termin 4711
// (Kalender)"; a key it does not know stays as it is.
func ItemLabel(itemKey string) string { return heldLabel(itemKey) }

// heldLabel names a held item for a person, e.g. "Termin 4711".
func heldLabel(itemKey string) string {
	kind, sk, _ := strings.Cut(itemKey, "/")
	if kind == categoryKind {
		if sk == "" {
			return text.T("Kategorien")
		}
		return text.F("Kategorie „%s“", sk)
	}
	prefix, id, _ := strings.Cut(sk, ":")
	if series, day, ok := strings.Cut(id, "@"); ok {
		if d, err := time.Parse("2006-01-02", day); err == nil {
			return text.F("Termin %s, Ausfall am %s (Kalender)", series, d.Format("02.01.2006"))
		}
	}
	name := map[string]string{"termin": text.T("Termin"), "frist": text.T("Frist"), "vorfrist": text.T("Vorfrist"), "wiedervorlage": text.T("Wiedervorlage"), "adresse": text.T("Adresse")}[prefix]
	where := map[string]string{Event: text.T("Kalender"), Task: text.T("Aufgaben"), Contact: text.T("Kontakte")}[kind]
	if name == "" {
		return itemKey
	}
	return fmt.Sprintf("%s %s (%s)", name, id, where)
}

// HeldLabel names a held deletion for a person, e.g. "Termin 4711 (Kalender)".
func HeldLabel(h store.HeldDeletion) string { return heldLabel(h.ItemKey) }

// Preview is the plan's summary in German, saying which deletions the
// guard would hold back.
func (e *Exporter) Preview(ctx context.Context, w config.Worker, cacheID string) (string, error) {
	p, err := e.Plan(ctx, w, cacheID, PlanOptions{})
	if err != nil {
		return "", err
	}
	before, err := e.Store.HeldDeletions(ctx, w.UPN)
	if err != nil {
		return "", err
	}
	released := map[string]bool{}
	for _, h := range before {
		if h.Released() {
			released[h.ItemKey] = true
		}
	}
	maps, err := e.Store.Mappings(ctx, w.UPN)
	if err != nil {
		return "", err
	}
	_, held, reason, err := e.guard(ctx, w.UPN, cacheID, maps, p.Ops, released)
	if err != nil {
		return "", err
	}
	if len(held) == 0 {
		return p.Summary(), nil
	}
	return text.F("%s – davon würden %d Löschungen zurückgehalten: %s", p.Summary(), len(held), reason), nil
}
