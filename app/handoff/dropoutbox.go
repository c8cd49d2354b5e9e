package handoff

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// The mail drop's outbox folder (docs/mail-handoff.md): an integration
// writes a message to DIR/outbox/NAME.eml (under a temporary name first,
// then renamed); kanzleisync takes it into the outbox, sends it with the
// account's transport, and moves the file to DIR/outbox/sent/ or, with a
// NAME.txt that says why in German, to DIR/outbox/failed/.

const queuedDir = ".in-kanzleisync" // files taken into the outbox, not yet sent

// DropOutbox takes new files of the outbox folder into the outbox and
// files the ones whose message was sent or failed. It reports how many it
// queued.
func DropOutbox(ctx context.Context, st *store.Store, account, dir string, now time.Time) (int, error) {
	box := filepath.Join(dir, "outbox")
	for _, sub := range []string{queuedDir, "sent", "failed"} {
		if err := os.MkdirAll(filepath.Join(box, sub), 0o700); err != nil {
			return 0, &DropError{Dir: box, Err: err}
		}
	}
	// 1. new files: moved aside first, so a file is taken once
	files, _ := filepath.Glob(filepath.Join(box, "*.eml"))
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), ".") {
			continue
		}
		if err := os.Rename(f, filepath.Join(box, queuedDir, filepath.Base(f))); err != nil {
			return 0, &DropError{Dir: box, Err: err}
		}
	}
	// 2. what is aside: queue it (again after a crash: the source is unique),
	// or file it once its message was sent or failed
	queued := 0
	aside, _ := filepath.Glob(filepath.Join(box, queuedDir, "*.eml"))
	for _, f := range aside {
		name := filepath.Base(f)
		source := "drop:" + name
		o, err := st.BySource(ctx, account, source)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			raw, rerr := os.ReadFile(f)
			if rerr != nil {
				return queued, &DropError{Dir: box, Err: rerr}
			}
			rcpts, reason := checkDropped(raw, account)
			if reason != "" {
				if err := fileAway(box, f, "failed", reason); err != nil {
					return queued, err
				}
				continue
			}
			if _, err := st.EnqueueFrom(ctx, account, source, rcpts, raw, now); err != nil {
				return queued, err
			}
			queued++
		case err != nil:
			return queued, err
		case o.State == store.Sent:
			if err := fileAway(box, f, "sent", ""); err != nil {
				return queued, err
			}
		case o.State == store.Failed || o.State == store.Discarded:
			reason := o.Error
			if o.State == store.Discarded {
				reason = text.T("In kanzleisync verworfen (Konten verwalten → Nicht gesendet → Verwerfen).")
			}
			if err := fileAway(box, f, "failed", reason); err != nil {
				return queued, err
			}
		}
	}
	return queued, nil
}

// checkDropped reads a dropped message's recipients; a reason when it
// cannot be sent as it is.
func checkDropped(raw []byte, account string) ([]string, string) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, text.F("Die Datei ist keine lesbare E-Mail (RFC 5322): %s", germanParse(err))
	}
	if from, err := m.Header.AddressList("From"); err != nil || len(from) != 1 || !strings.EqualFold(from[0].Address, account) {
		return nil, text.F("Der Absender (From) muss %s sein, das Konto dieser Ablage.", account)
	}
	var rcpts []string
	for _, f := range []string{"To", "Cc", "Bcc"} {
		if list, err := m.Header.AddressList(f); err == nil {
			for _, a := range list {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	if len(rcpts) == 0 {
		return nil, text.T("Die Nachricht hat keinen Empfänger (To, Cc oder Bcc).")
	}
	return rcpts, ""
}

func germanParse(err error) string {
	if errors.Is(err, mail.ErrHeaderNotPresent) {
		return text.T("ein Kopfeintrag fehlt")
	}
	return text.T("Kopf und Text sind nicht durch eine Leerzeile getrennt oder der Kopf ist fehlerhaft")
}

// fileAway moves a file into sent/ or failed/, a reason beside it.
func fileAway(box, f, to, reason string) error {
	dst := filepath.Join(box, to, filepath.Base(f))
	if reason != "" {
		txt := strings.TrimSuffix(dst, ".eml") + ".txt"
		if err := os.WriteFile(txt, []byte(reason+"\n"), 0o600); err != nil {
			return &DropError{Dir: box, Err: err}
		}
	}
	if err := os.Rename(f, dst); err != nil {
		return &DropError{Dir: box, Err: err}
	}
	return nil
}
