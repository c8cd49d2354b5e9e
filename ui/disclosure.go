package ui

import (
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/text"
)

var (
	choiceFull   = text.Mark("vollständig")
	choiceFileNo = text.Mark("Aktenzeichen statt Mandant")
	choiceNone   = text.Mark("leer")
	choiceText   = text.Mark("fester Text")
)

// DisclosureField is the choice for one field of „Was die Kanzlei
// verlässt“: a Select and, for a subject, the fixed text.
type DisclosureField struct {
	Choice *widget.Select
	Fixed  *widget.Entry // nil where no fixed text is offered
}

func newDisclosureField(value string, subject bool) *DisclosureField {
	opts := []string{choiceFull, choiceFileNo, choiceNone}
	if subject {
		opts = []string{choiceFull, choiceFileNo, choiceText}
	}
	d := &DisclosureField{Choice: widget.NewSelect(translated(opts), nil)}
	if subject {
		d.Fixed = widget.NewEntry()
		d.Fixed.SetPlaceHolder(text.T("z. B. Gerichtstermin"))
		d.Choice.OnChanged = func(string) {
			if d.Choice.Selected == text.T(choiceText) {
				d.Fixed.Enable()
			} else {
				d.Fixed.Disable()
			}
		}
	}
	fixed, isText := strings.CutPrefix(value, config.DiscloseText)
	switch {
	case isText && subject:
		d.Fixed.SetText(fixed)
		d.Choice.SetSelected(text.T(choiceText))
	case value == config.DiscloseFileNo:
		d.Choice.SetSelected(text.T(choiceFileNo))
	case value == config.DiscloseNone && !subject:
		d.Choice.SetSelected(text.T(choiceNone))
	default:
		d.Choice.SetSelected(text.T(choiceFull))
	}
	return d
}

// Value is the setting the field stands for.
func (d *DisclosureField) Value() string {
	switch d.Choice.Selected {
	case text.T(choiceFileNo):
		return config.DiscloseFileNo
	case text.T(choiceNone):
		return config.DiscloseNone
	case text.T(choiceText):
		return config.DiscloseText + strings.TrimSpace(d.Fixed.Text)
	}
	return config.DiscloseFull
}

func (d *DisclosureField) object() fyne.CanvasObject {
	if d.Fixed == nil {
		return d.Choice
	}
	return container.NewGridWithColumns(2, d.Choice, d.Fixed)
}

func (d *DisclosureField) disableables() []fyne.Disableable {
	if d.Fixed == nil {
		return []fyne.Disableable{d.Choice}
	}
	return []fyne.Disableable{d.Choice, d.Fixed}
}

// disclosureTab is „Was die Kanzlei verlässt“: per field of Termine,
// Fristen and Wiedervorlagen what goes to Microsoft 365, the text of
// confidential Termine, what contacts leave out, and a preview of
// examples from the cache before anything is saved.
func (a *App) disclosureTab(s *SettingsScreen) fyne.CanvasObject {
	set, err := a.eng.Settings(a.ctx)
	if err != nil {
		set = config.DefaultSettings()
	}
	s.Disclosure = map[string]*DisclosureField{
		"terminBetreff": newDisclosureField(set.AppointmentSubject, true),
		"terminOrt":     newDisclosureField(set.AppointmentLocation, false),
		"terminText":    newDisclosureField(set.AppointmentBody, false),
		"fristBetreff":  newDisclosureField(set.DeadlineSubject, true),
		"fristText":     newDisclosureField(set.DeadlineBody, false),
		"wvBetreff":     newDisclosureField(set.ResubmissionSubject, true),
		"wvText":        newDisclosureField(set.ResubmissionBody, false),
	}
	s.ConfidentialText = widget.NewEntry()
	s.ConfidentialText.SetText(set.ConfidentialSubject)
	s.ConfidentialText.SetPlaceHolder(text.T("leer: der neutrale Standardtext"))
	s.NoNotes = widget.NewCheck(text.T("Kontakte ohne Notiz"), nil)
	s.NoNotes.SetChecked(set.ContactsWithoutNotes)
	s.NoPrivatePhones = widget.NewCheck(text.T("Kontakte ohne private Telefonnummer"), nil)
	s.NoPrivatePhones.SetChecked(set.ContactsWithoutPrivatePhones)
	s.DisclosurePreview = widget.NewLabel("")
	s.DisclosurePreview.Wrapping = fyne.TextWrapWord
	s.DisclosureResult = widget.NewLabel("")
	s.DisclosureResult.Wrapping = fyne.TextWrapWord
	s.ShowDisclosure = widget.NewButton(text.T("Vorschau"), func() { a.previewDisclosure(s) })
	s.SaveDisclosure = widget.NewButton(text.T("Speichern"), func() { a.saveDisclosure(s) })
	s.SaveDisclosure.Importance = widget.HighImportance
	d := s.Disclosure
	form := widget.NewForm(
		widget.NewFormItem(text.T("Termine: Betreff"), d["terminBetreff"].object()),
		widget.NewFormItem(text.T("Termine: Ort"), d["terminOrt"].object()),
		widget.NewFormItem(text.T("Termine: Text"), d["terminText"].object()),
		widget.NewFormItem(text.T("Fristen: Betreff"), d["fristBetreff"].object()),
		widget.NewFormItem(text.T("Fristen: Text"), d["fristText"].object()),
		widget.NewFormItem(text.T("Wiedervorlagen: Betreff"), d["wvBetreff"].object()),
		widget.NewFormItem(text.T("Wiedervorlagen: Text"), d["wvText"].object()),
		widget.NewFormItem(text.T("Vertrauliche Termine"), s.ConfidentialText),
		widget.NewFormItem("", s.NoNotes),
		widget.NewFormItem("", s.NoPrivatePhones),
	)
	for key, f := range d {
		s.lockable = append(s.lockable, f.disableables()...)
		if slices.Contains(a.eng.Policy().LockedSettings(), key) {
			for _, w := range f.disableables() {
				s.policyLocked[w] = true
			}
		}
	}
	s.lockable = append(s.lockable, s.ConfidentialText, s.NoNotes, s.NoPrivatePhones, s.SaveDisclosure)
	for key, w := range map[string]fyne.Disableable{"vertraulichBetreff": s.ConfidentialText, "kontakteOhneNotiz": s.NoNotes, "kontakteOhnePrivat": s.NoPrivatePhones} {
		if slices.Contains(a.eng.Policy().LockedSettings(), key) {
			s.policyLocked[w] = true
		}
	}
	intro := widget.NewLabel(text.T("Was nach Microsoft 365 geht, sehen alle, die den Kalender oder die Aufgaben lesen dürfen (Stellvertretungen, freigegebene Kalender), jedes Telefon mit dem Postfach und Microsoft (§ 203 StGB). Vertrauliche Termine gehen immer als „privat“ und nur mit dem Text unten."))
	intro.Wrapping = fyne.TextWrapWord
	// the buttons and the preview stay in sight below the scrolling choices
	bottom := container.NewVBox(container.NewHBox(s.ShowDisclosure, s.SaveDisclosure), s.DisclosureResult, s.DisclosurePreview)
	return container.NewBorder(intro, bottom, nil, nil, container.NewVScroll(form))
}

// disclosureSettings are the stored settings with the tab's choices.
func (a *App) disclosureSettings(s *SettingsScreen) (config.Settings, error) {
	n, err := a.eng.Settings(a.ctx)
	if err != nil {
		return n, err
	}
	d := s.Disclosure
	n.AppointmentSubject, n.AppointmentLocation, n.AppointmentBody = d["terminBetreff"].Value(), d["terminOrt"].Value(), d["terminText"].Value()
	n.DeadlineSubject, n.DeadlineBody = d["fristBetreff"].Value(), d["fristText"].Value()
	n.ResubmissionSubject, n.ResubmissionBody = d["wvBetreff"].Value(), d["wvText"].Value()
	n.ConfidentialSubject = strings.TrimSpace(s.ConfidentialText.Text)
	n.ContactsWithoutNotes, n.ContactsWithoutPrivatePhones = s.NoNotes.Checked, s.NoPrivatePhones.Checked
	return n, n.Validate()
}

// previewDisclosure shows examples from the cache under the tab's choices
// without saving them.
func (a *App) previewDisclosure(s *SettingsScreen) {
	n, err := a.disclosureSettings(s)
	if err != nil {
		s.DisclosureResult.SetText(core.Explain(err, config.Entity{}, ""))
		return
	}
	entity, samples, err := a.eng.DisclosureSamples(a.ctx, n)
	switch {
	case err != nil:
		s.DisclosureResult.SetText(core.Explain(err, config.Entity{}, ""))
		return
	case entity == "":
		s.DisclosureResult.SetText(text.T("Keine Vorschau: für keine Entität ist der Cache der Kanzleisoftware eingetragen."))
		return
	}
	lines := []string{text.F("So gingen Beispiele aus dem Cache der Entität „%s“ mit diesen Einstellungen nach Microsoft 365 (nichts gespeichert):", entity)}
	for _, sm := range samples {
		lines = append(lines, core.SampleLine(sm))
	}
	s.DisclosureResult.SetText("")
	s.DisclosurePreview.SetText(strings.Join(lines, "\n"))
}

func (a *App) saveDisclosure(s *SettingsScreen) {
	n, err := a.disclosureSettings(s)
	if err == nil {
		err = a.eng.ChangeSettings(a.ctx, a.admin, n, false)
	}
	if err != nil {
		s.DisclosureResult.SetText(core.Explain(err, config.Entity{}, ""))
		return
	}
	s.DisclosureResult.SetText(text.T("Gespeichert; die nächste Synchronisation ändert in Microsoft 365 nur die betroffenen Felder."))
	a.eng.SyncNow()
}
