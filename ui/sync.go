package ui

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/export"
	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// SyncScreen is "Synchronisation": per case worker the modules, a progress
// bar while a cycle runs, last and next run, and the items that failed.
type SyncScreen struct {
	Now  *widget.Button
	List *fyne.Container
	// Bars are the progress bars per worker UPN (lower case).
	Bars map[string]*widget.ProgressBar
	// Failed lists the failed items shown per worker UPN (lower case).
	Failed map[string][]store.JournalEntry
	// Held lists the held deletions per worker UPN (lower case), and
	// Release their "Löschungen ausführen" buttons.
	Held    map[string][]store.HeldDeletion
	Release map[string]*widget.Button
}

var kindLabels = []struct{ kind, label string }{
	{export.Event, text.Mark("Kalendereinträge")}, {export.Task, text.Mark("Aufgaben")}, {export.Contact, text.Mark("Kontakte")},
}

// ShowSync opens "Synchronisation".
func (a *App) ShowSync() *SyncScreen {
	if old, ok := a.reopen("sync"); ok {
		return old.(*SyncScreen)
	}
	s := &SyncScreen{}
	a.window("sync", "Synchronisation", fyne.NewSize(760, 560), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		s.Now = widget.NewButton(text.T("Jetzt synchronisieren"), func() { a.eng.SyncNow() })
		s.Now.Importance = widget.HighImportance
		s.List = container.NewVBox()
		return container.NewBorder(container.NewHBox(s.Now), nil, nil, nil, container.NewVScroll(s.List)), func(st core.Status) { a.fillSync(s, st) }
	})
	a.screens["sync"] = s
	return s
}

func (a *App) fillSync(s *SyncScreen, st core.Status) {
	s.List.RemoveAll()
	s.Bars, s.Failed = map[string]*widget.ProgressBar{}, map[string][]store.JournalEntry{}
	s.Held, s.Release = map[string][]store.HeldDeletion{}, map[string]*widget.Button{}
	if len(st.Sync) == 0 {
		s.List.Add(widget.NewLabel(text.T("Kein Sachbearbeiter mit eingeschaltetem Modul.")))
		return
	}
	held, err := a.eng.HeldDeletions(a.ctx)
	export.SortHeld(held)
	if err != nil {
		s.List.Add(widget.NewLabel(text.F("Zurückgehaltene Löschungen: %s", core.Explain(err, config.Entity{}, ""))))
	}
	for _, h := range held {
		k := strings.ToLower(h.Worker)
		s.Held[k] = append(s.Held[k], h)
	}
	for _, ws := range st.Sync {
		key := strings.ToLower(ws.Worker)
		var mods []string
		for _, m := range ws.Modules {
			mods = append(mods, m.Label())
		}
		box := container.NewVBox(widget.NewLabel(text.F("Module: %s", strings.Join(mods, ", "))))
		if ws.Running {
			box.Add(a.progressBox(s, key, ws))
		} else {
			r := ws.Result
			box.Add(widget.NewLabel(text.F("Letzte Synchronisation: %s – %s", germanTime(ws.LastRun), orDash(lastSummary(ws)))))
			box.Add(widget.NewLabel(text.F("Angelegt %d, geändert %d, gelöscht %d, fehlgeschlagen %d, übersprungen %d",
				r.Created, r.Updated, r.Deleted, r.Failed, r.Skipped)))
			box.Add(widget.NewLabel(text.F("Nächste Synchronisation: %s", germanTime(ws.NextRun))))
		}
		if ws.Err != "" {
			l := widget.NewLabel(forPeople(ws.Err))
			l.Wrapping = fyne.TextWrapWord
			l.Importance = widget.DangerImportance
			box.Add(l)
		}
		if hs := s.Held[key]; len(hs) > 0 {
			box.Add(a.heldBox(s, ws.Worker, hs))
		}
		failed, _ := a.eng.Journal(a.ctx, store.JournalFilter{Worker: ws.Worker, Result: "error", Since: ws.LastRun.Add(-24 * time.Hour), Limit: 10})
		s.Failed[key] = failed
		for _, f := range failed {
			l := widget.NewLabel(fmt.Sprintf("✗ %s %s: %s", f.At.Local().Format("02.01. 15:04"), core.JournalTitle(f), f.Error))
			l.Wrapping = fyne.TextWrapWord
			box.Add(l)
		}
		s.List.Add(widget.NewCard(ws.Worker, "", box))
	}
}

// heldBox lists a worker's held deletions with the administrator's button
// that releases them; the reason is already in the worker's red line.
func (a *App) heldBox(s *SyncScreen, upn string, hs []store.HeldDeletion) fyne.CanvasObject {
	released := 0
	for _, h := range hs {
		if h.Released() {
			released++
		}
	}
	const shown = 30
	names := make([]string, 0, shown)
	for i, h := range hs {
		if i == shown {
			names = append(names, text.F("… und %d weitere", len(hs)-shown))
			break
		}
		names = append(names, export.HeldLabel(h))
	}
	list := widget.NewLabel(text.F("Zurückgehaltene Löschungen (%d): %s", len(hs), strings.Join(names, ", ")))
	list.Wrapping = fyne.TextWrapWord
	btn := widget.NewButton(text.T("Löschungen ausführen"), func() { a.confirmRelease(upn, len(hs)) })
	btn.Importance = widget.DangerImportance
	if released == len(hs) {
		btn.SetText(text.T("Freigegeben – wird bei der nächsten Synchronisation ausgeführt"))
		btn.Disable()
	}
	s.Release[strings.ToLower(upn)] = btn
	return container.NewVBox(container.NewHBox(btn), list)
}

// confirmRelease asks for the administrator password (unless Einstellungen
// is unlocked) and a yes before the held deletions are released.
func (a *App) confirmRelease(upn string, n int) {
	w := a.windows["sync"]
	if w == nil {
		return
	}
	pass := widget.NewPasswordEntry()
	pass.SetPlaceHolder(text.T("Administratorpasswort"))
	warning := widget.NewLabel(fmt.Sprintf(text.T("%d Einträge von %s werden in Microsoft 365 gelöscht. Das lässt sich nicht rückgängig machen. ")+
		text.T("Bitte nur bestätigen, wenn der Cache der Kanzleisoftware vollständig ist und die Einträge dort wirklich gelöscht wurden."), n, upn))
	warning.Wrapping = fyne.TextWrapWord
	items := []*widget.FormItem{{Widget: warning}}
	if !a.admin.Unlocked() {
		items = append(items, widget.NewFormItem(text.T("Administratorpasswort"), pass))
	}
	d := dialog.NewForm(text.T("Löschungen ausführen"), text.T("Löschen"), text.T("Abbrechen"), items, func(ok bool) {
		if !ok {
			return
		}
		admin := a.admin
		if !admin.Unlocked() {
			var err error
			if admin, err = a.eng.Unlock(a.ctx, pass.Text); err != nil {
				dialog.ShowError(fmt.Errorf("%s", core.Explain(err, config.Entity{}, "")), w)
				return
			}
		}
		if _, err := a.eng.ReleaseHeldDeletions(a.ctx, admin, upn, text.T("Synchronisation")); err != nil {
			dialog.ShowError(fmt.Errorf("%s", core.Explain(err, config.Entity{}, "")), w)
			return
		}
		a.refreshSync()
	}, w)
	d.Resize(fyne.NewSize(560, 260))
	d.Show()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// JournalScreen is "Protokoll": the journal with filters and CSV export.
type JournalScreen struct {
	Worker, Result, Period *widget.Select
	Table                  *widget.Table
	Count                  *widget.Label
	Export                 *widget.Button
	Entries                []store.JournalEntry
}

var periodChoices = []string{text.Mark("heute"), text.Mark("7 Tage"), text.Mark("30 Tage"), text.Mark("alles")}

// ShowJournal opens "Protokoll".
func (a *App) ShowJournal() *JournalScreen {
	if old, ok := a.reopen("journal"); ok {
		s := old.(*JournalScreen)
		a.loadJournal(s)
		return s
	}
	s := &JournalScreen{}
	a.window("journal", "Protokoll", fyne.NewSize(900, 560), func(w fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		workers, _ := a.eng.Workers(a.ctx)
		choices := []string{text.T("alle Sachbearbeiter")}
		for _, w := range workers {
			choices = append(choices, w.UPN)
		}
		reload := func(string) { a.loadJournal(s) }
		s.Worker = widget.NewSelect(choices, nil)
		s.Worker.SetSelected(choices[0])
		s.Result = widget.NewSelect([]string{text.T("alle Ergebnisse"), text.T("nur Fehler"), text.T("nur erfolgreich")}, nil)
		s.Result.SetSelected(text.T("alle Ergebnisse"))
		s.Period = widget.NewSelect(translated(periodChoices), nil)
		s.Period.SetSelected(text.T("7 Tage"))
		s.Worker.OnChanged, s.Result.OnChanged, s.Period.OnChanged = reload, reload, reload
		s.Count = widget.NewLabel("")
		s.Export = widget.NewButton(text.T("Als CSV exportieren"), func() {
			d := dialog.NewFileSave(func(wc fyne.URIWriteCloser, err error) {
				if err != nil || wc == nil {
					return
				}
				defer wc.Close()
				if err := a.WriteJournalCSV(s, wc); err != nil {
					dialog.ShowError(err, w)
				}
			}, w)
			d.SetFileName("kanzleisync-protokoll.csv")
			d.Show()
		})
		headers := []string{text.T("Zeit"), text.T("Sachbearbeiter"), text.T("Eintrag"), text.T("Aktion"), text.T("Ergebnis"), text.T("Fehler")}
		widths := []float32{130, 220, 330, 110, 90, 400}
		s.Table = widget.NewTable(func() (int, int) { return len(s.Entries), len(headers) },
			func() fyne.CanvasObject {
				// a text longer than its column ends in "…" instead of
				// running into the next one; the CSV export has it whole
				l := widget.NewLabel("")
				l.Truncation = fyne.TextTruncateEllipsis
				return l
			},
			func(id widget.TableCellID, o fyne.CanvasObject) {
				o.(*widget.Label).SetText(journalCell(s.Entries[id.Row], id.Col))
			})
		s.Table.ShowHeaderRow = true
		s.Table.CreateHeader = func() fyne.CanvasObject { return widget.NewLabel("") }
		s.Table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Col >= 0 {
				o.(*widget.Label).SetText(headers[id.Col])
			}
		}
		for i, wd := range widths {
			s.Table.SetColumnWidth(i, wd)
		}
		filters := container.NewBorder(nil, nil, nil, container.NewHBox(s.Count, s.Export),
			container.NewGridWithColumns(3, s.Worker, s.Result, s.Period))
		return container.NewBorder(filters, nil, nil, nil, s.Table), nil
	})
	a.screens["journal"] = s
	a.loadJournal(s)
	return s
}

func journalCell(e store.JournalEntry, col int) string {
	switch col {
	case 0:
		return e.At.Local().Format("02.01.2006 15:04")
	case 1:
		return e.Worker
	case 2:
		return core.JournalTitle(e)
	case 3:
		return core.JournalAction(e.Action)
	case 4:
		return core.JournalResult(e.Result)
	}
	return e.Error
}

func (s *JournalScreen) filter(now time.Time) store.JournalFilter {
	f := store.JournalFilter{Limit: 5000}
	if s.Worker.SelectedIndex() > 0 {
		f.Worker = s.Worker.Selected
	}
	switch s.Result.Selected {
	case text.T("nur Fehler"):
		f.Result = "error"
	case text.T("nur erfolgreich"):
		f.Result = "ok"
	}
	switch s.Period.Selected {
	case text.T("heute"):
		y, m, d := now.Date()
		f.Since = time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	case text.T("7 Tage"):
		f.Since = now.AddDate(0, 0, -7)
	case text.T("30 Tage"):
		f.Since = now.AddDate(0, 0, -30)
	}
	return f
}

func (a *App) loadJournal(s *JournalScreen) {
	entries, err := a.eng.Journal(a.ctx, s.filter(a.eng.Now()))
	if err != nil {
		s.Count.SetText(err.Error())
		return
	}
	core.SortJournal(entries)
	s.Entries = entries
	s.Count.SetText(text.N(len(entries), "Eintrag", "Einträge"))
	s.Table.Refresh()
}

// WriteJournalCSV writes the entries the filters select as CSV.
func (a *App) WriteJournalCSV(s *JournalScreen, w io.Writer) error {
	var buf bytes.Buffer
	if err := core.WriteJournalCSV(&buf, s.Entries); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ShowAbout opens "Über".
func (a *App) ShowAbout() {
	a.window("about", "Über", fyne.NewSize(520, 300), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		title := widget.NewLabelWithStyle("kanzleisync "+a.o.Version, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		about := widget.NewLabel(text.T("Hält Microsoft 365 mit der Kanzleisoftware abgeglichen: Termine, Fristen, Wiedervorlagen, Adressen und die Mailkonten."))
		about.Wrapping = fyne.TextWrapWord
		ents, _ := a.eng.Entities(a.ctx)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name)
		}
		form := widget.NewForm(
			widget.NewFormItem(text.T("Entität"), widget.NewLabel(orDash(strings.Join(names, ", ")))),
			widget.NewFormItem(text.T("Datenverzeichnis"), widget.NewLabel(orDash(a.o.DataDir))),
			widget.NewFormItem(text.T("Protokolldatei"), widget.NewLabel(orDash(a.o.LogFile))),
			widget.NewFormItem(text.T("Übertragungsprotokoll"), widget.NewLabel(orDash(a.o.TransferLog))),
			widget.NewFormItem(text.T("Anmelde-Adresse"), widget.NewLabel(fmt.Sprintf("http://localhost:%d%s", config.DefaultRedirectPort, config.DefaultRedirectPath))),
		)
		return container.NewVBox(title, about, form), nil
	})
}

// refreshSync redraws "Synchronisation" at once (after a release).
func (a *App) refreshSync() {
	if f := a.refresh["sync"]; f != nil {
		f(a.status)
	}
}

// lastSummary says what the last cycle did, in the current language.
func lastSummary(ws core.WorkerSync) string {
	if ws.Result != (export.Result{}) {
		return ws.Result.Summary()
	}
	return text.T(ws.Summary)
}

// progressBox shows a running cycle: per kind a bar with the items done
// and to do, and the time left, estimated from the pace so far and
// Microsoft's budget for one mailbox.
func (a *App) progressBox(s *SyncScreen, key string, ws core.WorkerSync) fyne.CanvasObject {
	form := widget.NewForm()
	for _, k := range kindLabels {
		total := ws.Total[k.kind]
		if total == 0 {
			continue
		}
		done := min(ws.Completed[k.kind], total)
		bar := widget.NewProgressBar()
		bar.SetValue(float64(done) / float64(total))
		bar.TextFormatter = func() string { return text.F("%d von %d", done, total) }
		s.Bars[key+"/"+k.kind] = bar
		form.Append(text.T(k.label), bar)
	}
	box := container.NewVBox()
	left, ok := ws.Remaining(time.Now())
	switch {
	case !ok:
		box.Add(widget.NewLabel(text.T("Synchronisation läuft: die Einträge werden gezählt …")))
	default:
		done, total := ws.Progress()
		box.Add(widget.NewLabel(text.F("Synchronisation läuft: %d von %d Einträgen, noch etwa %s", done, total, approxDuration(left))))
	}
	if len(form.Items) > 0 {
		box.Add(form)
	}
	return box
}

// approxDuration says a remaining time as a person would.
func approxDuration(d time.Duration) string {
	switch m := int(d.Round(time.Minute).Minutes()); {
	case d < 45*time.Second:
		return text.T("weniger als eine Minute")
	case m < 60:
		return text.N(m, "Minute", "Minuten")
	default:
		return text.F("%s %s", text.N(m/60, "Stunde", "Stunden"), text.N(m%60, "Minute", "Minuten"))
	}
}
