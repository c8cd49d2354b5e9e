package ui

import (
	"context"
	"errors"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
	"kanzleisync/app/text"
)

// SettingsScreen is "Einstellungen".
type SettingsScreen struct {
	Tabs *container.AppTabs

	// the administrator unlock above the tabs
	AdminPass    *widget.Entry
	Unlock, Lock *widget.Button
	AdminState   *widget.Label
	lockable     []fyne.Disableable        // enabled only for the administrator
	policyLocked map[fyne.Disableable]bool // fixed by the IT's policy file

	// Entität
	EntityName, Tenant, ClientID, Secret, SecretExpires *widget.Entry
	SecretState                                         *widget.Label
	// CertState says whether a certificate proves the app; CreateCert makes one.
	CertState              *widget.Label
	CreateCert             *widget.Button
	SaveEntity, TestEntity *widget.Button
	EntityDot              *Dot
	EntityResult           *widget.Label

	// Sachbearbeiter
	Workers *fyne.Container
	Modules map[string]*widget.CheckGroup // per UPN

	// Kanzlei
	DeadlinesTo, BodyFormat *widget.RadioGroup
	TodoList                *widget.Entry
	// DeadlineShowAs, ResubmissionShowAs: how their all-day events show the day
	DeadlineShowAs, ResubmissionShowAs *widget.Select
	KeepEdits                          *widget.Check
	Active                             *widget.Check
	DebugLog                           *widget.Check
	ExportServer                       *widget.Entry
	SaveSettings                       *widget.Button
	SettingsResult                     *widget.Label

	// Was die Kanzlei verlässt (by the setting's JSON key)
	Disclosure                          map[string]*DisclosureField
	ConfidentialText                    *widget.Entry
	NoNotes, NoPrivatePhones            *widget.Check
	ShowDisclosure, SaveDisclosure      *widget.Button
	DisclosureResult, DisclosurePreview *widget.Label

	// Allgemein
	Autostart *widget.Check
	Language  *widget.Select
}

var (
	deadlineChoices = []string{text.Mark("Aufgaben (To Do)"), text.Mark("Kalender")}
	bodyChoices     = []string{"HTML", text.Mark("Text")}
	showAsChoices   = []string{text.Mark("frei"), text.Mark("beschäftigt"), text.Mark("abwesend")}
	showAsValues    = []string{"free", "busy", "oof"}
	moduleChoices   = []string{text.Mark("Kalender"), text.Mark("Kontakte"), text.Mark("Aufgaben"), text.Mark("Mail")}
)

// ShowSettings opens "Einstellungen".
func (a *App) ShowSettings() *SettingsScreen {
	if old, ok := a.reopen("settings"); ok {
		return old.(*SettingsScreen)
	}
	s := &SettingsScreen{Modules: map[string]*widget.CheckGroup{}}
	a.window("settings", "Einstellungen", fyne.NewSize(760, 560), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		s.policyLocked = map[fyne.Disableable]bool{}
		s.Tabs = container.NewAppTabs(
			container.NewTabItem(text.T("Entität"), a.entityTab(s)),
			container.NewTabItem(text.T("Sachbearbeiter"), a.workersTab(s)),
			container.NewTabItem(text.T("Kanzlei"), a.firmTab(s)),
			container.NewTabItem(text.T("Was die Kanzlei verlässt"), a.disclosureTab(s)),
			container.NewTabItem(text.T("Allgemein"), a.generalTab(s)),
		)
		return container.NewBorder(a.adminBar(s), nil, nil, nil, s.Tabs), nil
	})
	a.screens["settings"] = s
	a.applyLock(s)
	return s
}

// adminBar unlocks the entity and the firm settings with the administrator
// password, or sets it at the first start.
func (a *App) adminBar(s *SettingsScreen) fyne.CanvasObject {
	s.AdminPass = widget.NewPasswordEntry()
	s.AdminState = widget.NewLabel("")
	s.AdminState.Wrapping = fyne.TextWrapWord
	s.Unlock = widget.NewButton(text.T("Als Administrator entsperren"), func() { a.unlock(s) })
	s.Lock = widget.NewButton(text.T("Sperren"), func() {
		a.admin = config.Admin{}
		a.applyLock(s)
	})
	s.AdminPass.OnSubmitted = func(string) { a.unlock(s) }
	return container.NewVBox(container.NewBorder(nil, nil, nil, container.NewHBox(s.Unlock, s.Lock), s.AdminPass), s.AdminState)
}

func (a *App) unlock(s *SettingsScreen) {
	pw := s.AdminPass.Text
	has, err := a.eng.HasAdminPassword(a.ctx)
	if err == nil && !has {
		err = a.eng.SetAdminPassword(a.ctx, "", pw) // the first start: IT sets it
	}
	var admin config.Admin
	if err == nil {
		admin, err = a.eng.Unlock(a.ctx, pw)
	}
	s.AdminPass.SetText("")
	if err != nil {
		s.AdminState.SetText(err.Error())
		s.AdminState.Importance = widget.DangerImportance
		s.AdminState.Refresh()
		return
	}
	a.admin = admin
	a.applyLock(s)
}

// applyLock enables what the administrator may change, keeps what the
// IT's policy file fixes disabled, and says which is which.
func (a *App) applyLock(s *SettingsScreen) {
	for _, w := range s.lockable {
		if a.admin.Unlocked() && !s.policyLocked[w] {
			w.Enable()
		} else {
			w.Disable()
		}
	}
	has, _ := a.eng.HasAdminPassword(a.ctx)
	s.AdminState.Importance = widget.MediumImportance
	switch {
	case a.admin.Unlocked():
		s.AdminPass.Hide()
		s.Unlock.Hide()
		s.Lock.Show()
		s.AdminState.SetText(text.T("Als Administrator entsperrt: Entität, Kanzlei-Einstellungen und „Schnittstelle aktiv“ können geändert werden."))
	case !has:
		s.AdminPass.Show()
		s.Unlock.Show()
		s.Lock.Hide()
		s.AdminPass.SetPlaceHolder(text.T("neues Administratorpasswort (mindestens 10 Zeichen)"))
		s.Unlock.SetText(text.T("Administratorpasswort festlegen"))
		s.AdminState.SetText(text.T("Beim ersten Start legt die IT-Betreuung das Administratorpasswort fest. Bis dahin sind Entität und Kanzlei-Einstellungen gesperrt."))
	default:
		s.AdminPass.Show()
		s.Unlock.Show()
		s.Lock.Hide()
		s.AdminPass.SetPlaceHolder(text.T("Administratorpasswort"))
		s.Unlock.SetText(text.T("Als Administrator entsperren"))
		s.AdminState.SetText(text.T("Entität und Kanzlei-Einstellungen ändern nur Administratoren (die Sachbearbeiter-Module darf jeder ändern)."))
	}
	if p := a.eng.Policy(); p != nil {
		s.AdminState.SetText(text.F("%s Gesperrte Felder gibt die IT vor (%s).", s.AdminState.Text, p.Path))
	}
}

// firstEntity is the entity the workstation edits (one per installation
// in practice; the command line manages more).
func (a *App) firstEntity() (config.Entity, bool) {
	ents, err := a.eng.Entities(a.ctx)
	if err != nil || len(ents) == 0 {
		return config.Entity{}, false
	}
	return ents[0], true
}

func (a *App) entityTab(s *SettingsScreen) fyne.CanvasObject {
	ent, _ := a.firstEntity()
	s.EntityName, s.Tenant, s.ClientID = widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	s.EntityName.SetText(ent.Name)
	s.Tenant.SetText(ent.Tenant)
	s.Tenant.SetPlaceHolder(text.T("GUID oder kanzlei.onmicrosoft.com"))
	s.ClientID.SetText(ent.ClientID)
	s.ClientID.SetPlaceHolder(text.T("Anwendungs-ID (Client-ID)"))
	s.Secret = widget.NewPasswordEntry()
	s.Secret.SetPlaceHolder(text.T("nur zum Ändern eingeben: der WERT des geheimen Clientschlüssels"))
	s.SecretExpires = widget.NewEntry()
	s.SecretExpires.SetPlaceHolder(text.T("TT.MM.JJJJ"))
	if !ent.SecretExpires.IsZero() {
		s.SecretExpires.SetText(ent.SecretExpires.German())
	}
	s.SecretState = widget.NewLabel("")
	a.showSecretState(s, ent)
	s.CertState = widget.NewLabel(a.certState(ent))
	s.CertState.Wrapping = fyne.TextWrapWord
	s.CreateCert = widget.NewButton(text.T("Zertifikat anlegen"), func() { a.createCertificate(s) })
	s.EntityDot = NewDot(diagnose.Grey)
	s.EntityResult = widget.NewLabel("")
	s.EntityResult.Wrapping = fyne.TextWrapWord
	s.SaveEntity = widget.NewButton(text.T("Speichern"), func() { a.saveEntity(s) })
	s.SaveEntity.Importance = widget.HighImportance
	s.TestEntity = widget.NewButton(text.T("Verbindung testen"), func() { a.testEntity(s) })
	form := widget.NewForm(
		widget.NewFormItem(text.T("Name"), s.EntityName),
		widget.NewFormItem(text.T("Verzeichnis-ID"), s.Tenant),
		widget.NewFormItem(text.T("Client-ID"), s.ClientID),
		widget.NewFormItem(text.T("Geheimer Clientschlüssel"), s.Secret),
		widget.NewFormItem("", s.SecretState),
		widget.NewFormItem(text.T("Läuft ab am"), s.SecretExpires),
		widget.NewFormItem(text.T("Zertifikat"), container.NewBorder(nil, nil, nil, s.CreateCert, s.CertState)),
	)
	entityFields := []fyne.Disableable{s.EntityName, s.Tenant, s.ClientID, s.Secret, s.SecretExpires, s.SaveEntity, s.CreateCert}
	s.lockable = append(s.lockable, entityFields...)
	if a.eng.Policy().LockedEntity(ent.Name) {
		for _, w := range []fyne.Disableable{s.EntityName, s.Tenant, s.ClientID, s.SecretExpires} {
			s.policyLocked[w] = true
		}
	}
	return container.NewVBox(form, container.NewHBox(s.SaveEntity, s.TestEntity, s.EntityDot), s.EntityResult)
}

// certState says whether the entity proves itself with a certificate,
// which is recommended over the secret.
func (a *App) certState(ent config.Entity) string {
	if ent.Name == "" {
		return text.T("noch keine Entität angelegt")
	}
	if end := a.eng.CertificateEnd(ent.Name); !end.IsZero() {
		return text.F("hinterlegt, gültig bis %s – wird statt des geheimen Clientschlüssels verwendet", end.Local().Format("02.01.2006"))
	}
	return text.T("keins – empfohlen statt des geheimen Clientschlüssels (für den Server; Arbeitsplätze brauchen als öffentlicher Client keins von beiden)")
}

// createCertificate makes the certificate credential and says where its
// public part is for the upload.
func (a *App) createCertificate(s *SettingsScreen) {
	ent, ok := a.firstEntity()
	if !ok {
		s.EntityResult.SetText(text.T("Bitte zuerst die Entität speichern."))
		return
	}
	dir := a.o.DataDir
	if dir == "" {
		dir = "."
	}
	path, err := a.eng.CreateCertificate(a.admin, ent.Name, dir)
	if err != nil {
		s.EntityResult.SetText(core.Explain(err, ent, ""))
		return
	}
	s.CertState.SetText(a.certState(ent))
	s.EntityResult.SetText(text.F("Zertifikat angelegt. Jetzt %s im Azure-Portal hochladen: App-Registrierungen › Anwendungs-ID %s › Zertifikate & Geheimnisse › Zertifikate › Zertifikat hochladen.", path, ent.ClientID))
}

// showSecretState asks the keyring off the UI thread: a keyring that does
// not answer takes up to keyring.Timeout (5 s), and the window stays usable
// meanwhile.
func (a *App) showSecretState(s *SettingsScreen, ent config.Entity) {
	s.SecretState.SetText(text.T("Schlüsselspeicher wird gefragt …"))
	inBackground(a, func(context.Context) (string, error) { return a.secretState(ent), nil },
		func(state string, _ error) { s.SecretState.SetText(state) })
}

func (a *App) secretState(ent config.Entity) string {
	if ent.Name == "" {
		return text.T("noch keine Entität angelegt")
	}
	has, err := a.eng.HasClientSecret(ent.Name)
	switch {
	case err != nil:
		return core.Explain(err, ent, "")
	case !has:
		return text.T("kein Schlüssel hinterlegt")
	}
	return text.F("hinterlegt, läuft ab am %s", ent.SecretExpires.German())
}

// saveEntity validates and stores the entity; a new secret goes into the
// keyring only, and the field is cleared.
func (a *App) saveEntity(s *SettingsScreen) {
	ent, _ := a.firstEntity()
	oldName := ent.Name
	ent.Name, ent.Tenant, ent.ClientID = strings.TrimSpace(s.EntityName.Text), strings.TrimSpace(s.Tenant.Text), strings.TrimSpace(s.ClientID.Text)
	ent.SecretExpires = config.Date{}
	if t := strings.TrimSpace(s.SecretExpires.Text); t != "" {
		d, err := config.ParseDate(t)
		if err != nil {
			a.entityResult(s, diagnose.Red, text.T("Läuft ab am: bitte ein Datum wie 31.05.2028 eingeben."))
			return
		}
		ent.SecretExpires = d
	}
	secret := s.Secret.Text
	if err := a.eng.ChangeEntity(a.ctx, a.admin, config.EntityChange{Entity: ent, Was: oldName, Secret: secret}); err != nil {
		a.entityResult(s, diagnose.Red, core.Explain(err, ent, ""))
		return
	}
	s.Secret.SetText("")
	a.showSecretState(s, ent)
	a.entityResult(s, diagnose.Grey, text.T("Gespeichert. Mit „Verbindung testen“ prüfen."))
	a.restart()
}

func (a *App) entityResult(s *SettingsScreen, st diagnose.Status, text string) {
	s.EntityDot.Set(st)
	s.EntityResult.SetText(text)
}

// testEntity signs in as the application and probes its permissions; the
// dot turns green when every module works.
func (a *App) testEntity(s *SettingsScreen) {
	ent, ok := a.firstEntity()
	if !ok {
		a.entityResult(s, diagnose.Red, text.T("Bitte zuerst die Entität speichern."))
		return
	}
	s.TestEntity.Disable()
	a.entityResult(s, diagnose.Grey, text.T("Verbindung wird getestet …"))
	inBackground(a, func(ctx context.Context) (diagnose.Report, error) { return a.eng.TestEntity(ctx, ent.Name) }, func(rep diagnose.Report, err error) {
		s.TestEntity.Enable()
		if err != nil {
			a.entityResult(s, diagnose.Red, core.Explain(err, ent, ""))
			return
		}
		status, lines := diagnose.Green, []string{}
		for _, c := range rep.Checks {
			line := c.Name + ": " + c.Detail
			if c.Fix != "" {
				line += " → " + c.Fix
			}
			lines = append(lines, line)
			if c.Status == diagnose.Red || (c.Status == diagnose.Yellow && status == diagnose.Green) {
				status = c.Status
			}
		}
		a.entityResult(s, status, strings.Join(lines, "\n"))
	})
}

func (a *App) workersTab(s *SettingsScreen) fyne.CanvasObject {
	s.Workers = container.NewVBox()
	workers, err := a.eng.Workers(a.ctx)
	if err != nil {
		s.Workers.Add(widget.NewLabel(err.Error()))
	}
	if len(workers) == 0 {
		s.Workers.Add(widget.NewLabel(text.T("Noch kein Sachbearbeiter. Anlegen mit: kanzleisync config worker set --upn … (siehe docs/einrichtung.md).")))
	}
	for _, w := range workers {
		var on []string
		for _, m := range w.Modules {
			on = append(on, m.Label())
		}
		group := widget.NewCheckGroup(translated(moduleChoices), nil)
		group.Horizontal = true
		group.SetSelected(on)
		upn := w.UPN
		group.OnChanged = func(sel []string) { a.setModules(upn, sel) }
		s.Modules[strings.ToLower(upn)] = group
		signIn := widget.NewButton(text.T("Anmelden"), func() { a.SignIn(upn) })
		last := widget.NewLabel(text.F("Letzte Anmeldung: %s", germanTime(w.LastSignIn)))
		s.Workers.Add(widget.NewCard(w.DisplayName, w.UPN, container.NewVBox(group, container.NewHBox(signIn, last))))
	}
	return container.NewVScroll(s.Workers)
}

// setModules switches a worker's modules on or off; the running workers
// follow at once.
func (a *App) setModules(upn string, labels []string) {
	w, err := a.eng.Worker(a.ctx, upn)
	if err != nil {
		a.notifyError("Module", err)
		return
	}
	var mods []config.Module
	for _, m := range config.AllModules {
		if slices.Contains(labels, m.Label()) {
			mods = append(mods, m)
		}
	}
	w.Modules = mods
	if err := a.saveWorker(w); err != nil {
		a.notifyError("Module", err)
	}
}

func (a *App) firmTab(s *SettingsScreen) fyne.CanvasObject {
	set, err := a.eng.Settings(a.ctx)
	if err != nil {
		set = config.DefaultSettings()
	}
	s.DeadlinesTo = widget.NewRadioGroup(translated(deadlineChoices), nil)
	s.DeadlinesTo.SetSelected(translated(deadlineChoices)[boolIndex(set.DeadlinesTo == "calendar")])
	s.TodoList = widget.NewEntry()
	s.TodoList.SetText(set.TodoListName)
	s.BodyFormat = widget.NewRadioGroup(translated(bodyChoices), nil)
	s.BodyFormat.Horizontal = true
	s.BodyFormat.SetSelected(translated(bodyChoices)[boolIndex(set.BodyFormat == "text")])
	s.DeadlineShowAs = widget.NewSelect(translated(showAsChoices), nil)
	s.DeadlineShowAs.SetSelected(translated(showAsChoices)[showAsIndex(set.DeadlineShowAs)])
	s.ResubmissionShowAs = widget.NewSelect(translated(showAsChoices), nil)
	s.ResubmissionShowAs.SetSelected(translated(showAsChoices)[showAsIndex(set.ResubmissionShowAs)])
	s.KeepEdits = widget.NewCheck(text.T("Änderungen am Text in Outlook nicht überschreiben"), nil)
	s.KeepEdits.SetChecked(set.KeepOutlookBodyEdits)
	s.DebugLog = widget.NewCheck(text.T("Übertragungsprotokoll mit Details jeder Graph-Anfrage (Fehlersuche)"), nil)
	s.DebugLog.SetChecked(set.TransferLogDebug)
	s.ExportServer = widget.NewEntry()
	s.ExportServer.SetText(set.ExportServer)
	s.ExportServer.SetPlaceHolder(text.T("leer: dieser Arbeitsplatz exportiert; sonst z. B. http://127.0.0.1:9465"))
	s.Active = widget.NewCheck(text.T("Schnittstelle aktiv (erst dann wird nach Microsoft 365 geschrieben)"), nil)
	s.Active.SetChecked(set.InterfaceActive)
	s.Active.OnChanged = a.onActiveChanged(s)
	s.SettingsResult = widget.NewLabel("")
	s.SettingsResult.Wrapping = fyne.TextWrapWord
	s.SaveSettings = widget.NewButton(text.T("Speichern"), func() {
		// from what is stored: the settings this form does not show (the
		// local servers, the message limit, the scope probe, set with the
		// command line or the IT's policy) stay as they are
		n, err := a.eng.Settings(a.ctx)
		if err != nil {
			s.SettingsResult.SetText(core.Explain(err, config.Entity{}, ""))
			return
		}
		n.DeadlinesTo, n.TodoListName, n.BodyFormat, n.KeepOutlookBodyEdits = "todo", strings.TrimSpace(s.TodoList.Text), "html", s.KeepEdits.Checked
		n.InterfaceActive, n.TransferLogDebug, n.ExportServer = s.Active.Checked, s.DebugLog.Checked, strings.TrimSpace(s.ExportServer.Text)
		n.DeadlineShowAs, n.ResubmissionShowAs = showAsValue(s.DeadlineShowAs.Selected), showAsValue(s.ResubmissionShowAs.Selected)
		if s.DeadlinesTo.Selected == text.T("Kalender") {
			n.DeadlinesTo = "calendar"
		}
		if s.BodyFormat.Selected == text.T("Text") {
			n.BodyFormat = "text"
		}
		if err := a.eng.ChangeSettings(a.ctx, a.admin, n, false); err != nil {
			s.SettingsResult.SetText(core.Explain(err, config.Entity{}, ""))
			return
		}
		s.SettingsResult.SetText(text.T("Gespeichert; die nächste Synchronisation verwendet die neuen Einstellungen."))
		a.eng.SyncNow()
	})
	s.SaveSettings.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem(text.T("Fristen und Wiedervorlagen"), s.DeadlinesTo),
		widget.NewFormItem(text.T("Aufgabenliste"), s.TodoList),
		widget.NewFormItem(text.T("Fristen im Kalender"), s.DeadlineShowAs),
		widget.NewFormItem(text.T("Wiedervorlagen im Kalender"), s.ResubmissionShowAs),
		widget.NewFormItem(text.T("Textformat"), s.BodyFormat),
		widget.NewFormItem("", s.KeepEdits),
		widget.NewFormItem("", s.DebugLog),
		widget.NewFormItem(text.T("Export durch Server"), s.ExportServer),
	)
	s.lockable = append(s.lockable, s.DeadlineShowAs, s.ResubmissionShowAs, s.DeadlinesTo, s.TodoList, s.BodyFormat, s.KeepEdits, s.DebugLog, s.ExportServer, s.SaveSettings, s.Active)
	for _, k := range a.eng.Policy().LockedSettings() {
		if w, ok := map[string]fyne.Disableable{"fristAnzeigenAls": s.DeadlineShowAs, "wvAnzeigenAls": s.ResubmissionShowAs, "deadlinesTo": s.DeadlinesTo, "todoListName": s.TodoList, "bodyFormat": s.BodyFormat,
			"keepOutlookBodyEdits": s.KeepEdits, "interfaceActive": s.Active, "transferLogDebug": s.DebugLog, "exportServer": s.ExportServer}[k]; ok {
			s.policyLocked[w] = true
		}
	}
	return container.NewVBox(form, s.SaveSettings, s.SettingsResult, widget.NewSeparator(), s.Active)
}

// onActiveChanged: switching off takes effect at once; switching on only
// after the preview was shown and confirmed.
func (a *App) onActiveChanged(s *SettingsScreen) func(bool) {
	return func(on bool) {
		if on {
			s.Active.OnChanged = nil
			s.Active.SetChecked(false)
			s.Active.OnChanged = a.onActiveChanged(s)
			a.ShowActivation(s)
			return
		}
		a.setActive(s, false)
	}
}

// setActive stores the switch "Schnittstelle aktiv"; the engine follows at once.
func (a *App) setActive(s *SettingsScreen, on bool) {
	// switching on comes here only from the activation window's confirmation
	if err := a.eng.SetInterfaceActive(a.ctx, a.admin, on, on); err != nil {
		s.SettingsResult.SetText(core.Explain(err, config.Entity{}, ""))
		return
	}
	s.Active.OnChanged = nil // no second round through OnChanged
	s.Active.SetChecked(on)
	s.Active.OnChanged = a.onActiveChanged(s)
	if on {
		s.SettingsResult.SetText(text.T("Schnittstelle eingeschaltet: die Synchronisation schreibt ab jetzt nach Microsoft 365."))
	} else {
		s.SettingsResult.SetText(text.T("Schnittstelle ausgeschaltet: es wird nichts mehr nach Microsoft 365 geschrieben."))
	}
	a.restart()
}

// ActivationScreen shows the preview of the first cycle once more and asks
// for confirmation before the interface is switched on.
type ActivationScreen struct {
	Preview          *widget.Label
	Confirm, Dismiss *widget.Button
}

// ShowActivation opens the confirmation of "Schnittstelle aktiv".
func (a *App) ShowActivation(settings *SettingsScreen) *ActivationScreen {
	if old, ok := a.reopen("activate"); ok {
		s := old.(*ActivationScreen)
		a.computePreview(s) // the cache may have changed since
		return s
	}
	s := &ActivationScreen{}
	a.window("activate", "Schnittstelle aktivieren", fyne.NewSize(640, 420), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		intro := widget.NewLabel(text.T("Nach dem Einschalten schreibt kanzleisync in die Kalender, Kontakte und Aufgaben in Microsoft 365. Die erste Synchronisation wird Folgendes tun:"))
		intro.Wrapping = fyne.TextWrapWord
		s.Preview = widget.NewLabel(text.T("Vorschau wird berechnet …"))
		s.Preview.Wrapping = fyne.TextWrapWord
		s.Confirm = widget.NewButton(text.T("Aktivieren"), func() {
			a.setActive(settings, true)
			a.CloseWindow("activate")
		})
		s.Confirm.Importance = widget.HighImportance
		s.Confirm.Disable()
		s.Dismiss = widget.NewButton(text.T("Abbrechen"), func() { a.CloseWindow("activate") })
		return container.NewBorder(intro, container.NewHBox(s.Confirm, s.Dismiss), nil, nil, container.NewVScroll(s.Preview)), nil
	})
	a.screens["activate"] = s
	a.computePreview(s)
	return s
}

// computePreview plans the first cycle and shows it; Aktivieren waits for it.
func (a *App) computePreview(s *ActivationScreen) {
	s.Confirm.Disable()
	s.Preview.SetText(text.T("Vorschau wird berechnet …"))
	inBackground(a, a.eng.Preview, func(out map[string]string, err error) {
		var lines []string
		for k, v := range out {
			lines = append(lines, "• "+k+": "+v)
		}
		slices.Sort(lines)
		if err != nil && !errors.Is(err, export.ErrInactive) {
			lines = append(lines, "", text.F("Hinweis: %s", core.Explain(err, config.Entity{}, "")))
		}
		if len(lines) == 0 {
			lines = []string{text.T("Nichts zu tun: kein Sachbearbeiter mit eingeschaltetem Modul.")}
		}
		s.Preview.SetText(strings.Join(lines, "\n"))
		s.Confirm.Enable()
	})
}

func (a *App) generalTab(s *SettingsScreen) fyne.CanvasObject {
	s.Autostart = widget.NewCheck(text.T("Mit dem System starten"), nil)
	if a.o.Autostart == nil {
		s.Autostart.Disable()
	} else {
		s.Autostart.SetChecked(a.o.Autostart.Enabled())
		if m, ok := a.o.Autostart.(interface{ Machine() bool }); ok && m.Machine() {
			// IT starts kanzleisync for every user (MSI with AUTOSTART=1)
			s.Autostart.SetText(text.T("Mit dem System starten (von der IT für alle Benutzer eingeschaltet)"))
			s.Autostart.Disable()
		}
		s.Autostart.OnChanged = func(on bool) {
			if err := a.o.Autostart.Set(on); err != nil {
				a.notifyError(text.T("Mit dem System starten"), err)
			}
		}
	}
	s.Language = widget.NewSelect([]string{text.T("Deutsch"), text.T("English")}, nil)
	s.Language.SetSelected(map[string]string{text.German: text.T("Deutsch"), text.English: text.T("English")}[text.Language()])
	s.Language.OnChanged = func(v string) {
		lang := text.German
		if v == text.T("English") {
			lang = text.English
		}
		a.SetLanguage(lang)
	}
	info := widget.NewLabel(text.T("Sprache der Menüs, Fenster und Meldungen; gilt sofort."))
	info.Wrapping = fyne.TextWrapWord
	return container.NewVBox(s.Autostart, widget.NewForm(widget.NewFormItem(text.T("Sprache"), s.Language)), info)
}

func showAsIndex(v string) int {
	for i, sv := range showAsValues {
		if sv == v {
			return i
		}
	}
	return 0
}

func showAsValue(label string) string {
	for i, l := range translated(showAsChoices) {
		if l == label && i > 0 {
			return showAsValues[i]
		}
	}
	return "" // free, the default
}
