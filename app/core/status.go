package core

import (
	"kanzleisync/app/text"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/diagnose"
	"kanzleisync/app/export"
)

// The status model: what the tray, the windows, the CLI and serve's
// /health all read. The engine (engine.go) keeps it current; Health is its
// wire form, written by serve and read back by the workstations.

// State is what the tray picture shows.
type State int

const (
	OK      State = iota // everything works
	Warning              // works, but something needs attention soon
	Error                // something fails
	Syncing              // an export is running
)

// String names the state for logs and /health.
func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Warning:
		return "warning"
	case Error:
		return "error"
	case Syncing:
		return "syncing"
	}
	return "unknown"
}

// AccountStatus is one line of the account manager.
type AccountStatus struct {
	Worker     string // UPN
	WorkerName string
	Account    config.MailAccount
	Dot        diagnose.Status
	Detail     string // what happened last, or what to do
	// say makes Detail when the status is read, in the language of that
	// moment (a language switch applies at once)
	say        func() string
	LastFetch  time.Time
	NextFetch  time.Time
	LastSignIn time.Time
	Fetched    int // messages fetched since start
	Waiting    int // stored, not yet taken by the Kommunikator
	// Aside counts the messages that broke a session and wait up to 24 h
	// on the server before they are tried again (RetryAside: at once).
	Aside int
	// Outbox counts what the Kommunikator submitted and is not sent yet,
	// OutboxFailed what could not be sent (journal: the reason).
	Outbox, OutboxFailed int
}

// WorkerSync is the export state of one case worker.
type WorkerSync struct {
	Worker    string
	Modules   []config.Module
	Running   bool
	Started   time.Time      // when the running cycle began
	Completed map[string]int // per kind: event, task, contact
	Total     map[string]int
	Summary   string
	Result    export.Result
	Err       string // in the current language; "" when the last cycle worked
	// explain makes Err when the status is read (see AccountStatus.say)
	explain func() string
	LastRun time.Time
	NextRun time.Time
}

// tell sets what Detail says, made anew each time the status is read.
func (a *AccountStatus) tell(say func() string) { a.say, a.Detail = say, say() }

// Status is the engine's state at one moment.
type Status struct {
	State  State
	Reason string // the first line of the tray menu
	// MaxParallel is the most mailboxes exported at the same time so far.
	MaxParallel int
	Warnings    []diagnose.Warning
	Accounts    []AccountStatus
	Sync        []WorkerSync
	// LocalPOP3 is where the Kommunikator fetches ("" while off or failed).
	LocalPOP3 string
	// LocalSMTP is where the Kommunikator sends ("" while off or failed).
	LocalSMTP string
}

// summarize picks the tray picture and its reason: an error first, then a
// running export, then a warning.
func summarize(st Status) (State, string) {
	for _, w := range st.Warnings {
		if w.Status == diagnose.Red {
			return Error, w.Title + ": " + w.Text
		}
	}
	for _, s := range st.Sync {
		if s.Err != "" {
			return Error, text.F("Synchronisation für %s fehlgeschlagen: %s", s.Worker, s.Err)
		}
	}
	for _, a := range st.Accounts {
		if a.Dot == diagnose.Red {
			return Error, "Mailkonto " + a.Account.Address + ": " + a.Detail
		}
	}
	for _, s := range st.Sync {
		if s.Running {
			return Syncing, text.F("Synchronisation läuft für %s", s.Worker)
		}
	}
	for _, w := range st.Warnings {
		return Warning, w.Title + ": " + w.Text
	}
	for _, a := range st.Accounts {
		if a.Dot == diagnose.Yellow {
			return Warning, "Mailkonto " + a.Account.Address + ": " + a.Detail
		}
	}
	return OK, text.T("Alles in Ordnung")
}

// Health is the JSON of `kanzleisync serve`'s /health; the workstations
// whose settings name an export server read it back (serverclient.go).
type Health struct {
	Status      string             `json:"status"` // ok, warning, error, standby
	Reason      string             `json:"reason"`
	Leader      bool               `json:"leader"`
	Holder      string             `json:"holder"`
	LeaseHolder string             `json:"leaseHolder,omitempty"`
	LeaseUntil  time.Time          `json:"leaseUntil,omitzero"`
	Since       time.Time          `json:"since,omitzero"`
	Mailboxes   []MailboxHealth    `json:"mailboxes"`
	Warnings    []diagnose.Warning `json:"warnings"`
	MaxParallel int                `json:"maxParallel"`
	// SyncRequests counts the POST /sync a serve accepted since it started.
	SyncRequests int64 `json:"syncRequests"`
}

// MailboxHealth is one exported mailbox in Health.
type MailboxHealth struct {
	UPN     string    `json:"upn"`
	Running bool      `json:"running"`
	LastRun time.Time `json:"lastRun,omitzero"`
	NextRun time.Time `json:"nextRun,omitzero"`
	Summary string    `json:"summary"`
	Error   string    `json:"error,omitempty"`
	Created int       `json:"created"`
	Updated int       `json:"updated"`
	Deleted int       `json:"deleted"`
	// Cancelled: occurrences of series cancelled in Outlook
	Cancelled int `json:"cancelled"`
	Failed    int `json:"failed"`
	Held      int `json:"heldDeletions"`
}

// HealthOf is the exporting server's part of Health for a status.
func HealthOf(st Status) Health {
	h := Health{Status: st.State.String(), Reason: st.Reason, Mailboxes: []MailboxHealth{}, Warnings: append([]diagnose.Warning{}, st.Warnings...),
		MaxParallel: st.MaxParallel}
	if st.State == Syncing {
		h.Status = OK.String() // a running export is healthy
	}
	for _, w := range st.Sync {
		h.Mailboxes = append(h.Mailboxes, MailboxHealth{UPN: w.Worker, Running: w.Running, LastRun: w.LastRun, NextRun: w.NextRun, Summary: w.Summary,
			Error: w.Err, Created: w.Result.Created, Updated: w.Result.Updated, Deleted: w.Result.Deleted, Cancelled: w.Result.Cancelled, Failed: w.Result.Failed, Held: w.Result.Held})
	}
	return h
}
