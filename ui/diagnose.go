package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
	"strings"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/text"
)

// DiagnoseScreen is the window "Anbindung testen".
type DiagnoseScreen struct {
	Run     *widget.Button
	Consent *widget.Button
	State   *widget.Label
	Results *fyne.Container
	// Reports are the last results (nil before the first run).
	Reports    []diagnose.Report
	consentURL string
}

// ShowDiagnose opens "Anbindung testen"; with run it starts the test at once.
func (a *App) ShowDiagnose(run bool) *DiagnoseScreen {
	if old, ok := a.reopen("diagnose"); ok {
		s := old.(*DiagnoseScreen)
		if run {
			a.runDiagnose(s)
		}
		return s
	}
	s := &DiagnoseScreen{}
	a.window("diagnose", "Anbindung testen", fyne.NewSize(760, 620), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		s.State = widget.NewLabel(text.T("Jedes Modul wird mit einem harmlosen Aufruf bei Microsoft 365 geprüft; nichts wird verändert."))
		s.State.Wrapping = fyne.TextWrapWord
		s.Results = container.NewVBox()
		s.Run = widget.NewButton(text.T("Anbindung testen"), func() { a.runDiagnose(s) })
		s.Run.Importance = widget.HighImportance
		s.Consent = widget.NewButton(text.T("Administratorzustimmung erteilen"), func() {
			if s.consentURL != "" {
				_ = a.o.OpenURL(s.consentURL)
			}
		})
		s.Consent.Disable()
		top := container.NewVBox(s.State, container.NewHBox(s.Run, s.Consent))
		return container.NewBorder(top, nil, nil, nil, container.NewVScroll(s.Results)), nil
	})
	a.screens["diagnose"] = s
	if run {
		a.runDiagnose(s)
	}
	return s
}

func (a *App) runDiagnose(s *DiagnoseScreen) {
	s.Run.Disable()
	s.Reports = nil
	s.State.SetText(text.T("Anbindung wird getestet …"))
	inBackground(a, a.eng.Diagnose, func(reports []diagnose.Report, err error) {
		s.Run.Enable()
		if err != nil {
			s.State.SetText(text.F("Der Test konnte nicht laufen: %s", core.Explain(err, config.Entity{}, "")))
			return
		}
		s.show(reports)
	})
}

func (s *DiagnoseScreen) show(reports []diagnose.Report) {
	s.Reports = reports
	s.Results.RemoveAll()
	ok := true
	s.consentURL = ""
	for _, r := range reports {
		ok = ok && r.OK()
		if !r.OK() && r.ConsentURL != "" && s.consentURL == "" {
			s.consentURL = r.ConsentURL
		}
		title := widget.NewLabelWithStyle(r.Subject, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		rows := container.NewVBox(title)
		var techLines []string
		for _, c := range r.Checks {
			detail := widget.NewLabel(c.Detail)
			detail.Wrapping = fyne.TextWrapWord
			line := container.NewBorder(nil, nil, container.NewHBox(NewDot(c.Status), widget.NewLabel(c.Name)), nil, detail)
			rows.Add(line)
			if c.Fix != "" {
				fix := widget.NewLabel("→ " + forPeople(c.Fix))
				fix.Wrapping = fyne.TextWrapWord
				fix.Importance = widget.DangerImportance
				rows.Add(fix)
			}
			if c.Tech != "" {
				techLines = append(techLines, c.Name+": "+c.Tech)
			}
		}
		if len(techLines) > 0 { // for IT and support, folded away: one per section
			tech := widget.NewLabel(strings.Join(techLines, "\n"))
			tech.Wrapping = fyne.TextWrapWord
			rows.Add(widget.NewAccordion(widget.NewAccordionItem(text.T("Details"), tech)))
		}
		s.Results.Add(widget.NewCard("", "", rows))
	}
	if s.consentURL != "" {
		s.Consent.Enable()
	} else {
		s.Consent.Disable()
	}
	if ok {
		s.State.SetText(text.T("Alle eingeschalteten Module funktionieren."))
	} else {
		s.State.SetText(text.T("Nicht alles funktioniert: Die roten und gelben Zeilen sagen, was zu tun ist."))
	}
}
