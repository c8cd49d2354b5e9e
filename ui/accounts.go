package ui

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/handoff"
	"kanzleisync/app/mail"
	"kanzleisync/app/text"
)

// AccountsScreen is "Konten verwalten", the Kommunikator's account manager.
type AccountsScreen struct {
	Add  *widget.Button
	List *fyne.Container
	// Rows are the accounts shown, in order.
	Rows []AccountRow
}

// AccountRow is one account line with its buttons.
type AccountRow struct {
	Status                             core.AccountStatus
	Dot                                *Dot
	Edit, Remove, Authenticate, Test   *widget.Button
	Title, LastFetch, SignedIn, Detail *widget.Label
	// Kommunikator says what to enter in the practice software's mail
	// client; CopyPassword puts the local password on the clipboard.
	Kommunikator *widget.Label
	CopyPassword *widget.Button
	// Unsent opens the messages that could not be sent (only when some are).
	Unsent *widget.Button
	// RetryAside: the messages set aside for 24 h, tried again now
	RetryAside *widget.Button
}

// ShowAccounts opens "Konten verwalten".
func (a *App) ShowAccounts() *AccountsScreen {
	if old, ok := a.reopen("accounts"); ok {
		return old.(*AccountsScreen)
	}
	s := &AccountsScreen{}
	a.window("accounts", "Konten verwalten", fyne.NewSize(820, 520), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		s.Add = widget.NewButton(text.T("Konto hinzufügen"), func() { a.ShowAccountEditor("", "") })
		s.List = container.NewVBox()
		return container.NewBorder(container.NewHBox(s.Add), nil, nil, nil, container.NewVScroll(s.List)), func(st core.Status) { a.fillAccounts(s, st) }
	})
	a.screens["accounts"] = s
	return s
}

func mailboxLabel(a config.MailAccount) string {
	box := "Hauptpostfach"
	if a.Mailbox == config.ArchiveMailbox {
		box = "Archivpostfach"
	}
	via := "POP3/SMTP"
	if a.Transport == config.GraphMail {
		via = "Microsoft Graph"
	}
	return box + ", " + via
}

func (a *App) fillAccounts(s *AccountsScreen, st core.Status) {
	s.List.RemoveAll()
	s.Rows = nil
	if len(st.Accounts) == 0 {
		s.List.Add(widget.NewLabel(text.T("Noch kein Mailkonto. Mit „Konto hinzufügen“ ein Konto eines Sachbearbeiters anlegen.")))
		return
	}
	for _, acc := range st.Accounts {
		r := AccountRow{Status: acc, Dot: NewDot(acc.Dot),
			Title:     widget.NewLabelWithStyle(acc.Account.Address+" – "+mailboxLabel(acc.Account), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			LastFetch: widget.NewLabel(text.F("Letzter Abruf: %s", germanTime(acc.LastFetch))),
			SignedIn:  widget.NewLabel(text.F("Letzte Anmeldung: %s", germanTime(acc.LastSignIn))),
			Detail:    widget.NewLabel(forPeople(acc.Detail)),
		}
		r.Detail.Wrapping = fyne.TextWrapWord
		if acc.Dot == diagnose.Red {
			r.Detail.Importance = widget.DangerImportance
		}
		upn, address := acc.Worker, acc.Account.Address
		r.Edit = widget.NewButton(text.T("Bearbeiten"), func() { a.ShowAccountEditor(upn, address) })
		r.Remove = widget.NewButton(text.T("Entfernen"), func() { a.removeAccount(upn, address) })
		r.Authenticate = widget.NewButton(text.T("Anmelden"), func() { a.SignIn(upn) })
		r.Test = widget.NewButton(text.T("Testmail senden"), func() { a.ShowTestMail(upn, address) })
		info := container.NewVBox(container.NewHBox(r.Dot, r.Title), widget.NewLabel(acc.WorkerName+" ("+acc.Worker+")"),
			container.NewHBox(r.LastFetch, r.SignedIn), r.Detail)
		if host, port, err := net.SplitHostPort(st.LocalPOP3); err == nil && acc.Account.Address != "" {
			kommText := text.F("Im Kommunikator: POP3-Server %s, Port %s, ohne Verschlüsselung, Benutzer %s, Passwort siehe „Passwort kopieren“ – %s auf den Abruf.",
				host, port, address, text.N(acc.Waiting, "Nachricht wartet", "Nachrichten warten"))
			if shost, sport, err := net.SplitHostPort(st.LocalSMTP); err == nil {
				kommText += text.F(" Postausgangsserver (SMTP) %s, Port %s, Anmeldung mit demselben Benutzer und Passwort – im Postausgang: %d, nicht gesendet: %d (siehe Protokoll).",
					shost, sport, acc.Outbox, acc.OutboxFailed)
			}
			r.Kommunikator = widget.NewLabel(kommText)
			r.Kommunikator.Wrapping = fyne.TextWrapWord
			r.CopyPassword = widget.NewButton(text.T("Passwort kopieren"), func() { a.copyLocalPassword(address) })
			info.Add(r.Kommunikator)
		}
		buttons := container.NewHBox(r.Authenticate, r.Test, r.Edit, r.Remove)
		if r.CopyPassword != nil {
			buttons.Add(r.CopyPassword)
		}
		if acc.Aside > 0 {
			r.RetryAside = widget.NewButton(text.F("Zurückgestellte erneut abrufen (%d)", acc.Aside), func() { a.retryAside(address) })
			r.RetryAside.Importance = widget.WarningImportance
			buttons.Add(r.RetryAside)
		}
		if acc.OutboxFailed > 0 {
			r.Unsent = widget.NewButton(fmt.Sprintf("%s (%d)", text.T("Nicht gesendet"), acc.OutboxFailed), func() { a.ShowUnsent(address) })
			r.Unsent.Importance = widget.DangerImportance
			buttons.Add(r.Unsent)
		}
		info.Add(buttons)
		s.List.Add(widget.NewCard("", "", info))
		s.Rows = append(s.Rows, r)
	}
}

// retryAside tries an account's messages set aside (they broke a session
// twice) again now instead of after 24 hours.
func (a *App) retryAside(address string) {
	n, err := a.eng.RetryAside(a.ctx, address)
	if err != nil {
		a.notifyError(text.T("Zurückgestellte erneut abrufen"), err)
		return
	}
	a.fa.SendNotification(fyne.NewNotification("kanzleisync", text.F("%s: %s", address, text.Nf(n, "%d zurückgestellte Nachricht wird jetzt erneut abgerufen.", "%d zurückgestellte Nachrichten werden jetzt erneut abgerufen."))))
}

// copyLocalPassword puts the account's local password for the Kommunikator
// on the clipboard; it is never shown.
func (a *App) copyLocalPassword(address string) {
	pw, err := a.eng.LocalPassword(address)
	if err != nil {
		a.notifyError(text.T("Passwort kopieren"), fmt.Errorf("%s", core.Explain(err, config.Entity{}, "")))
		return
	}
	a.fa.Clipboard().SetContent(pw)
	a.fa.SendNotification(fyne.NewNotification("kanzleisync", text.F("Das lokale Passwort von %s ist in der Zwischenablage: im Kommunikator einfügen.", address)))
}

// removeAccount deletes an account from its worker and restarts the fetchers.
func (a *App) removeAccount(upn, address string) {
	w, err := a.eng.Worker(a.ctx, upn)
	if err != nil {
		a.notifyError(text.T("Konto entfernen"), err)
		return
	}
	kept := w.Accounts[:0]
	for _, acc := range w.Accounts {
		if !strings.EqualFold(acc.Address, address) {
			kept = append(kept, acc)
		}
	}
	w.Accounts = kept
	if err := a.saveWorker(w); err != nil {
		a.notifyError(text.T("Konto entfernen"), err)
	}
}

func (a *App) saveWorker(w config.Worker) error {
	if err := a.eng.SaveWorker(a.ctx, w); err != nil {
		return err
	}
	a.restart()
	return nil
}

// restart applies a changed configuration to the background work.
func (a *App) restart() {
	inBackground(a, func(ctx context.Context) (struct{}, error) { return struct{}{}, a.eng.Reload(ctx) }, func(_ struct{}, err error) {
		if err != nil {
			a.fa.SendNotification(fyne.NewNotification("kanzleisync", text.F("Neustart der Synchronisation fehlgeschlagen: %s", core.Explain(err, config.Entity{}, ""))))
		}
	})
	a.buildMenu()
}

func (a *App) notifyError(what string, err error) {
	a.fa.SendNotification(fyne.NewNotification(what, err.Error()))
}

// AccountEditor is the form of one mail account.
type AccountEditor struct {
	Worker             *widget.Select
	Address            *widget.Entry
	Mailbox, Transport *widget.RadioGroup
	POP3Host, POP3Port *widget.Entry
	POP3TLS            *widget.Select
	SMTPHost, SMTPPort *widget.Entry
	// LeaveDays is „Kopie auf dem Server lassen (Tage)“, MoveTo the Graph
	// folder for taken messages, DropDir the mail drop.
	LeaveDays, MoveTo    *widget.Entry
	DropDir              *widget.Entry
	Form                 *widget.Form
	Error                *widget.Label
	origUPN, origAddress string
}

var (
	mailboxChoices   = []string{"Hauptpostfach", "Archivpostfach"}
	transportChoices = []string{"POP3/SMTP", "Microsoft Graph"}
	tlsChoices       = []string{"TLS (Port 995)", "STARTTLS (Port 110)"}
)

// ShowAccountEditor opens the form for a new account (upn and address
// empty) or an existing one.
func (a *App) ShowAccountEditor(upn, address string) *AccountEditor {
	name := "account-edit"
	if old, ok := a.reopen(name); ok {
		e := old.(*AccountEditor)
		a.loadAccount(e, upn, address)
		a.titleAccountEditor(name, upn)
		return e
	}
	e := &AccountEditor{}
	a.window(name, "Konto bearbeiten", fyne.NewSize(600, 640), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		workers, _ := a.eng.Workers(a.ctx)
		var upns []string
		for _, w := range workers {
			upns = append(upns, w.UPN)
		}
		e.Worker = widget.NewSelect(upns, nil)
		e.Address = widget.NewEntry()
		e.Address.SetPlaceHolder(text.T("anna.mueller@kanzlei.de"))
		e.Mailbox = widget.NewRadioGroup(mailboxChoices, nil)
		e.Mailbox.Horizontal = true
		e.POP3Host, e.POP3Port = widget.NewEntry(), widget.NewEntry()
		e.POP3TLS = widget.NewSelect(tlsChoices, nil)
		e.SMTPHost, e.SMTPPort = widget.NewEntry(), widget.NewEntry()
		e.LeaveDays, e.MoveTo, e.DropDir = widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
		e.LeaveDays.SetPlaceHolder("0")
		e.MoveTo.SetPlaceHolder(text.T("leer: im Posteingang lassen"))
		e.DropDir.SetPlaceHolder(text.T("leer: keine"))
		mailServer := []fyne.CanvasObject{e.POP3Host, e.POP3Port, e.POP3TLS, e.SMTPHost, e.SMTPPort}
		e.Transport = widget.NewRadioGroup(transportChoices, func(v string) {
			for _, o := range mailServer {
				if v == "Microsoft Graph" {
					o.(fyne.Disableable).Disable()
				} else {
					o.(fyne.Disableable).Enable()
				}
			}
			if v == "Microsoft Graph" {
				e.MoveTo.Enable()
			} else {
				e.MoveTo.Disable()
			}
		})
		e.Transport.Horizontal = true
		e.Error = widget.NewLabel("")
		e.Error.Wrapping = fyne.TextWrapWord
		e.Error.Importance = widget.DangerImportance
		e.Form = &widget.Form{Items: []*widget.FormItem{
			{Text: text.T("Sachbearbeiter"), Widget: e.Worker},
			{Text: "Adresse", Widget: e.Address},
			{Text: text.T("Postfach"), Widget: e.Mailbox},
			{Text: "Zugang", Widget: e.Transport},
			{Text: text.T("POP3-Server"), Widget: e.POP3Host, HintText: "Exchange Online: outlook.office365.com"},
			{Text: "POP3-Port", Widget: e.POP3Port},
			{Text: text.T("POP3-Verschlüsselung"), Widget: e.POP3TLS},
			{Text: text.T("SMTP-Server"), Widget: e.SMTPHost, HintText: "Exchange Online: smtp.office365.com"},
			{Text: "SMTP-Port", Widget: e.SMTPPort},
			{Text: text.T("Kopie auf dem Server lassen (Tage)"), Widget: e.LeaveDays, HintText: text.T("0: löschen, sobald abgeholt; „immer“: nie löschen")},
			{Text: text.T("Über Graph verschieben nach"), Widget: e.MoveTo, HintText: text.T("Ordner für abgeholte Nachrichten; leer lässt das Postfach, wie es ist")},
			{Text: "Mail-Ablage (Ordner)", Widget: e.DropDir, HintText: text.T("jede Nachricht auch als Datei (Maildir); leer: keine")},
		}, SubmitText: text.T("Speichern"), CancelText: "Abbrechen"}
		e.Form.OnSubmit = func() {
			if err := a.saveAccount(e); err != nil {
				e.Error.SetText(err.Error())
				return
			}
			e.Error.SetText("")
			a.CloseWindow(name)
		}
		e.Form.OnCancel = func() { a.CloseWindow(name) }
		return container.NewVBox(e.Form, e.Error), nil
	})
	a.screens[name] = e
	a.loadAccount(e, upn, address)
	a.titleAccountEditor(name, upn)
	return e
}

// titleAccountEditor names the form for what it does.
func (a *App) titleAccountEditor(name, upn string) {
	if w := a.Window(name); w != nil {
		title := text.T("Konto bearbeiten")
		if upn == "" {
			title = text.T("Konto hinzufügen")
		}
		w.SetTitle(text.T(title))
	}
}

func (a *App) loadAccount(e *AccountEditor, upn, address string) {
	e.origUPN, e.origAddress = upn, address
	acc := config.MailAccount{}.WithDefaults()
	if upn != "" {
		if w, err := a.eng.Worker(a.ctx, upn); err == nil {
			for _, x := range w.Accounts {
				if strings.EqualFold(x.Address, address) {
					acc = x.WithDefaults()
				}
			}
		}
	}
	e.Worker.SetSelected(upn)
	e.Address.SetText(acc.Address)
	e.Mailbox.SetSelected(mailboxChoices[boolIndex(acc.Mailbox == config.ArchiveMailbox)])
	e.Transport.SetSelected(transportChoices[boolIndex(acc.Transport == config.GraphMail)])
	e.POP3Host.SetText(acc.POP3Host)
	e.POP3Port.SetText(strconv.Itoa(acc.POP3Port))
	e.POP3TLS.SetSelected(tlsChoices[boolIndex(acc.POP3TLS == config.TLSStartTLS)])
	e.SMTPHost.SetText(acc.SMTPHost)
	e.SMTPPort.SetText(strconv.Itoa(acc.SMTPPort))
	switch acc.LeaveDays {
	case config.KeepOnServer:
		e.LeaveDays.SetText(text.T("immer"))
	case 0:
		e.LeaveDays.SetText("")
	default:
		e.LeaveDays.SetText(strconv.Itoa(acc.LeaveDays))
	}
	e.MoveTo.SetText(acc.GraphMoveTo)
	e.DropDir.SetText(acc.DropDir)
	e.Error.SetText("")
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// saveAccount validates the form and stores the account with its worker;
// errors are German and name the field.
func (a *App) saveAccount(e *AccountEditor) error {
	if e.Worker.Selected == "" {
		return text.Errorf("Bitte den Sachbearbeiter wählen, dem das Konto gehört.")
	}
	acc := config.MailAccount{Address: strings.TrimSpace(e.Address.Text), Mailbox: config.MainMailbox, Transport: config.POP3SMTP,
		POP3Host: strings.TrimSpace(e.POP3Host.Text), SMTPHost: strings.TrimSpace(e.SMTPHost.Text), POP3TLS: config.TLSImplicit}
	if e.Mailbox.Selected == "Archivpostfach" {
		acc.Mailbox = config.ArchiveMailbox
	}
	if e.Transport.Selected == "Microsoft Graph" {
		acc.Transport = config.GraphMail
	}
	if e.POP3TLS.Selected == tlsChoices[1] {
		acc.POP3TLS = config.TLSStartTLS
	}
	var err error
	if acc.POP3Port, err = strconv.Atoi(strings.TrimSpace(e.POP3Port.Text)); err != nil {
		return text.Errorf("POP3-Port: bitte eine Zahl eingeben, z. B. 995.")
	}
	if acc.SMTPPort, err = strconv.Atoi(strings.TrimSpace(e.SMTPPort.Text)); err != nil {
		return text.Errorf("SMTP-Port: bitte eine Zahl eingeben, z. B. 587.")
	}
	switch v := strings.TrimSpace(e.LeaveDays.Text); strings.ToLower(v) {
	case "", "0":
	case "immer", "always":
		acc.LeaveDays = config.KeepOnServer
	default:
		if acc.LeaveDays, err = strconv.Atoi(v); err != nil || acc.LeaveDays < 0 {
			return text.Errorf("Kopie auf dem Server lassen: bitte eine Zahl von Tagen eingeben (0: löschen, sobald der Kommunikator die Nachricht hat) oder „immer“.")
		}
	}
	acc.DropDir = strings.TrimSpace(e.DropDir.Text)
	if acc.Transport == config.GraphMail {
		acc.POP3Host, acc.POP3Port, acc.SMTPHost, acc.SMTPPort, acc.POP3TLS = "", 0, "", 0, ""
		acc.GraphMoveTo = strings.TrimSpace(e.MoveTo.Text)
	}
	if e.origUPN != "" && !strings.EqualFold(e.origUPN, e.Worker.Selected) { // moved to another worker
		old, err := a.eng.Worker(a.ctx, e.origUPN)
		if err != nil {
			return err
		}
		old.Accounts = without(old.Accounts, e.origAddress)
		if err := a.eng.SaveWorker(a.ctx, old); err != nil {
			return err
		}
		e.origAddress = ""
	}
	w, err := a.eng.Worker(a.ctx, e.Worker.Selected)
	if err != nil {
		return err
	}
	replaced := false
	for i, x := range w.Accounts {
		if e.origAddress != "" && strings.EqualFold(x.Address, e.origAddress) {
			w.Accounts[i], replaced = acc, true
		}
	}
	if !replaced {
		w.Accounts = append(w.Accounts, acc)
	}
	if !w.Has(config.Mail) {
		w.Modules = append(w.Modules, config.Mail)
	}
	return a.saveWorker(w)
}

func without(accs []config.MailAccount, address string) []config.MailAccount {
	var out []config.MailAccount
	for _, x := range accs {
		if !strings.EqualFold(x.Address, address) {
			out = append(out, x)
		}
	}
	return out
}

// TestMailScreen sends a test mail and shows each step.
type TestMailScreen struct {
	Account *widget.Select
	To      *widget.Entry
	Send    *widget.Button
	Dot     *Dot
	Steps   *widget.Label
	keys    map[string][2]string // label -> upn, address
}

// ShowTestMail opens "Testmail senden", preselecting an account when given.
func (a *App) ShowTestMail(upn, address string) *TestMailScreen {
	if old, ok := a.reopen("testmail"); ok {
		s := old.(*TestMailScreen)
		s.preselect(upn, address)
		return s
	}
	s := &TestMailScreen{keys: map[string][2]string{}}
	a.window("testmail", "Testmail senden", fyne.NewSize(620, 420), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		var labels []string
		for _, acc := range a.status.Accounts {
			l := acc.Account.Address + " (" + mailboxLabel(acc.Account) + ")"
			labels = append(labels, l)
			s.keys[l] = [2]string{acc.Worker, acc.Account.Address}
		}
		s.Account = widget.NewSelect(labels, nil)
		s.To = widget.NewEntry()
		s.To.SetPlaceHolder(text.T("leer: an das Konto selbst"))
		s.Dot = NewDot(diagnose.Grey)
		s.Steps = widget.NewLabel("")
		s.Steps.Wrapping = fyne.TextWrapWord
		s.Send = widget.NewButton(text.T("Senden"), func() { a.sendTestMail(s) })
		s.Send.Importance = widget.HighImportance
		form := widget.NewForm(widget.NewFormItem(text.T("Konto"), s.Account), widget.NewFormItem(text.T("An"), s.To))
		return container.NewBorder(container.NewVBox(form, container.NewHBox(s.Send, s.Dot)), nil, nil, nil, container.NewVScroll(s.Steps)), nil
	})
	a.screens["testmail"] = s
	s.preselect(upn, address)
	return s
}

func (s *TestMailScreen) preselect(upn, address string) {
	for _, l := range s.Account.Options {
		k := s.keys[l]
		if (upn == "" || strings.EqualFold(k[0], upn)) && (address == "" || strings.EqualFold(k[1], address)) {
			if upn != "" || s.Account.Selected == "" {
				s.Account.SetSelected(l)
			}
			return
		}
	}
}

func (a *App) sendTestMail(s *TestMailScreen) {
	k, ok := s.keys[s.Account.Selected]
	if !ok {
		s.Steps.SetText(text.T("Bitte zuerst das Konto wählen."))
		return
	}
	s.Send.Disable()
	s.Dot.Set(diagnose.Grey)
	s.Steps.SetText(text.T("Testmail wird gesendet …"))
	to := strings.TrimSpace(s.To.Text)
	inBackground(a, func(ctx context.Context) (mail.TestMailReport, error) { return a.eng.SendTestMail(ctx, k[0], k[1], to) }, func(rep mail.TestMailReport, err error) {
		s.Send.Enable()
		switch {
		case err != nil:
			s.Dot.Set(diagnose.Red)
			s.Steps.SetText(err.Error())
		case rep.Err != nil:
			s.Dot.Set(diagnose.Red)
			s.Steps.SetText(rep.Text())
		default:
			s.Dot.Set(diagnose.Green)
			s.Steps.SetText(rep.Text())
		}
	})
}

// UnsentScreen lists an account's messages that could not be sent, each
// with „Erneut senden“ and „Verwerfen“.
type UnsentScreen struct {
	List           *fyne.Container
	Retry, Discard map[int64]*widget.Button
}

// ShowUnsent opens the messages of address that could not be sent.
func (a *App) ShowUnsent(address string) *UnsentScreen {
	name := "unsent/" + strings.ToLower(address)
	if old, ok := a.reopen(name); ok {
		s := old.(*UnsentScreen)
		a.fillUnsent(s, address)
		return s
	}
	s := &UnsentScreen{}
	w := a.window(name, "Nicht gesendet", fyne.NewSize(720, 420), func(fyne.Window) (fyne.CanvasObject, func(core.Status)) {
		s.List = container.NewVBox()
		a.fillUnsent(s, address)
		return container.NewVScroll(s.List), nil
	})
	w.SetTitle(text.T("Nicht gesendet") + ": " + address + " – kanzleisync")
	a.screens[name] = s
	return s
}

func (a *App) fillUnsent(s *UnsentScreen, address string) {
	s.List.RemoveAll()
	s.Retry, s.Discard = map[int64]*widget.Button{}, map[int64]*widget.Button{}
	failed, err := a.eng.FailedOutgoing(a.ctx, address)
	if err != nil {
		s.List.Add(widget.NewLabel(core.Explain(err, config.Entity{}, "")))
		return
	}
	if len(failed) == 0 {
		s.List.Add(widget.NewLabel(text.T("Alle Nachrichten dieses Kontos sind gesendet.")))
		return
	}
	for _, o := range failed {
		id := o.ID
		l := widget.NewLabel(text.F("„%s“ an %s (%s)\n%s", handoff.Subject(o.Raw), strings.Join(o.Rcpts, ", "), germanTime(o.Created), o.Error))
		l.Wrapping = fyne.TextWrapWord
		retry := widget.NewButton(text.T("Erneut senden"), func() {
			if err := a.eng.RetryOutgoing(a.ctx, address, id); err != nil {
				a.notifyError(text.T("Erneut senden"), fmt.Errorf("%s", core.Explain(err, config.Entity{}, "")))
			}
			a.fillUnsent(s, address)
		})
		discard := widget.NewButton(text.T("Verwerfen"), func() {
			w := a.windows["unsent/"+strings.ToLower(address)]
			dialog.ShowConfirm(text.T("Verwerfen"), text.T("Die Nachricht wird nicht gesendet und aus dem Postausgang von kanzleisync entfernt. Im Kommunikator bleibt sie, wie sie ist."), func(ok bool) {
				if !ok {
					return
				}
				if err := a.eng.DiscardOutgoing(a.ctx, address, id); err != nil {
					a.notifyError(text.T("Verwerfen"), fmt.Errorf("%s", core.Explain(err, config.Entity{}, "")))
				}
				a.fillUnsent(s, address)
			}, w)
		})
		s.Retry[id], s.Discard[id] = retry, discard
		s.List.Add(widget.NewCard("", "", container.NewVBox(l, container.NewHBox(retry, discard))))
	}
}
