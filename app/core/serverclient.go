package core

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"kanzleisync/app/diagnose"
	"kanzleisync/app/text"
)

func (e *Engine) serverPoll() time.Duration {
	if e.o.ServerPoll > 0 {
		return e.o.ServerPoll
	}
	return 15 * time.Second
}

// pollServer reads the export server's state, when one is configured.
func (e *Engine) pollServer(ctx context.Context) {
	e.mu.Lock()
	addr := e.exportServer
	e.mu.Unlock()
	if addr == "" {
		return
	}
	h, err := fetchServerHealth(ctx, addr)
	e.mu.Lock()
	e.server, e.serverErr = h, err
	e.mu.Unlock()
	e.publish()
}

func fetchServerHealth(ctx context.Context, addr string) (*Health, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(addr, "/")+"/health", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("unexpected answer (%s): %w", resp.Status, err)
	}
	return &h, nil
}

// serverStatusLocked shows the server's export in the workstation's status:
// the mailboxes of this installation's workers, and a warning when the
// server cannot be reached or no server exports. e.mu is held.
func (e *Engine) serverStatusLocked(st *Status) {
	switch {
	case e.serverErr != nil:
		st.Warnings = append(st.Warnings, diagnose.Warning{Key: "server/unreachable", Status: diagnose.Red, Title: text.T("kanzleisync-Server nicht erreichbar"),
			Text: text.F("Der Export läuft auf dem Server (%s), der nicht antwortet: %s. Bitte die IT-Betreuung verständigen (Dienst „kanzleisync“ gestartet?).", e.exportServer, e.serverErr.Error())})
		return
	case e.server == nil:
		return
	case !e.server.Leader:
		st.Warnings = append(st.Warnings, diagnose.Warning{Key: "server/standby", Status: diagnose.Yellow, Title: text.T("kanzleisync-Server in Bereitschaft"),
			Text: e.server.Reason})
	}
	st.Warnings = append(st.Warnings, e.server.Warnings...)
	for i := range st.Sync {
		for _, m := range e.server.Mailboxes {
			if strings.EqualFold(m.UPN, st.Sync[i].Worker) {
				s := &st.Sync[i]
				s.Running, s.LastRun, s.NextRun, s.Summary, s.Err = m.Running, m.LastRun, m.NextRun, text.F("Server: %s", m.Summary), m.Error
				s.Result.Created, s.Result.Updated, s.Result.Deleted, s.Result.Failed, s.Result.Held = m.Created, m.Updated, m.Deleted, m.Failed, m.Held
				s.Result.Cancelled = m.Cancelled
			}
		}
	}
}
