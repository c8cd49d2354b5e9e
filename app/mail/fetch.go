package mail

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"kanzleisync/app/store"
	"kanzleisync/app/text"
)

// TokenSource gives the account's Outlook access token (*auth.TokenSource).
type TokenSource interface {
	TokenContext(ctx context.Context) (*oauth2.Token, error)
	Renew(ctx context.Context) (*oauth2.Token, error)
}

// Account is a POP3 account as the fetcher needs it.
type Account struct {
	Address string // also the SASL user
	Addr    string // host:port
	Mode    TLSMode
	TLS     *tls.Config
	// LeaveDays keeps a message on the server this many days after the
	// Kommunikator took it (0: delete it at the next fetch after that). A
	// message the Kommunikator has not taken stays on the server.
	LeaveDays int
	// MaxSize: a larger message is left on the server and journaled once (default 50 MB).
	MaxSize int64
	Timeout time.Duration
}

// taken reports whether a stored message may go from the upstream server:
// the Kommunikator took it at least leaveDays days ago.
func taken(f store.Fetched, leaveDays int, now time.Time) bool {
	if leaveDays < 0 { // config.KeepOnServer
		return false
	}
	return !f.Taken.IsZero() && now.Sub(f.Taken) >= time.Duration(leaveDays)*24*time.Hour
}

// Fetcher fetches an account's new messages into the store.
type Fetcher struct {
	Store  *store.Store
	Tokens TokenSource
	Logger *slog.Logger
	Now    func() time.Time
	// BatchBytes: messages are committed to the store in groups of about this size.
	BatchBytes int64
}

// Result counts what one fetch did.
type Result struct {
	Fetched, Deleted, Skipped int
}

// Fetch runs one session: new messages (by UIDL) are read, committed to the
// store, and only then marked for deletion; QUIT makes the deletions happen.
// A crash at any point leaves every message either on the server, or in
// the store, or both — and a message in the store is never fetched again.
//
// A message that breaks the session (the connection drops in the middle
// of it, or it is larger than the server said) does not block the others:
// a new session fetches the rest and tries it last; when it breaks a
// second session it is set aside for a day (aside), stays on the server
// and is journaled once.
func (f *Fetcher) Fetch(ctx context.Context, a Account) (Result, error) {
	if a.MaxSize <= 0 {
		a.MaxSize = 50 << 20
	}
	var total Result
	fs := &fetchState{brokeOnce: map[string]bool{}, asideNow: map[string]bool{}}
	for range maxSessions {
		res, broke, err := f.session(ctx, a, fs)
		total.Fetched += res.Fetched
		total.Deleted += res.Deleted
		total.Skipped += res.Skipped
		if broke == "" || ctx.Err() != nil {
			return total, err
		}
		fs.brokeOnce[broke] = true
	}
	return total, fmt.Errorf("fetch %s: %d sessions broke off: %w", a.Address, maxSessions, ErrProtocol)
}

// maxSessions bounds the sessions of one Fetch: each broken session sets a
// message aside or marks it to be tried last.
const maxSessions = 6

// asideFor: how long a message that broke two sessions is left alone.
const asideFor = 24 * time.Hour

// fetchState is what the sessions of one Fetch know of each other.
type fetchState struct {
	brokeOnce map[string]bool // broke a session of this fetch: tried last
	asideNow  map[string]bool // set aside by this fetch: counted once
}

// session is one POP3 session. broke names the message (messageID) that
// cut it short after the messages before it were stored; the caller then
// starts a new session.
func (f *Fetcher) session(ctx context.Context, a Account, fs *fetchState) (res Result, broke string, err error) {
	brokeOnce := fs.brokeOnce
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	batchBytes := f.BatchBytes
	if batchBytes <= 0 {
		batchBytes = 8 << 20
	}
	tok, err := f.Tokens.TokenContext(ctx)
	if err != nil {
		return res, "", fmt.Errorf("fetch %s: %w", a.Address, err)
	}
	c, err := f.login(ctx, a, tok.AccessToken)
	var de dialError
	if err != nil && !errors.As(err, &de) && !errors.Is(err, ErrInUse) && !errors.Is(err, ErrProtocol) {
		// The token may have been revoked or expired on the server before
		// its time: renew it once. A sign-in that cannot be renewed ends
		// here as auth.SignInRequiredError, which tells the person to sign
		// in again instead of "wrong password".
		if tok, rerr := f.Tokens.Renew(ctx); rerr != nil {
			return res, "", fmt.Errorf("fetch %s: %w", a.Address, rerr)
		} else {
			c, err = f.login(ctx, a, tok.AccessToken)
		}
	}
	if err != nil {
		return res, "", fmt.Errorf("fetch %s: %w", a.Address, err)
	}
	defer c.Close()
	// Cancel cuts a blocked read short instead of waiting for the timeout.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	list, err := c.List()
	if err != nil {
		return res, "", fmt.Errorf("fetch %s: %w", a.Address, err)
	}
	stored, err := f.Store.FetchedUIDLs(ctx, a.Address)
	if err != nil {
		return res, "", err
	}
	aside, err := f.Store.AsideUntil(ctx, a.Address, now())
	if err != nil {
		return res, "", err
	}
	// journalOnce records a problem of the server with one message the
	// first time it is seen (key: what identifies it), in German
	journalOnce := func(key, reason string) error {
		first, err := f.Store.SkipMessage(ctx, a.Address, key, reason)
		if err != nil || !first {
			return err
		}
		return f.Store.Journal(ctx, store.JournalEntry{At: now(), Worker: a.Address, ItemKey: "pop3:" + key, Action: "skip", Result: "error", Error: reason})
	}
	// setAside leaves a message that broke sessions alone for a day
	setAside := func(id, reason string) error {
		fs.asideNow[id] = true
		first, err := f.Store.SetAside(ctx, a.Address, "aside:"+id, reason, now().Add(asideFor))
		if err != nil || !first {
			return err
		}
		return f.Store.Journal(ctx, store.JournalEntry{At: now(), Worker: a.Address, ItemKey: "pop3:" + id, Action: "skip", Result: "error", Error: reason})
	}
	for _, l := range c.Unreadable {
		if err := journalOnce("line:"+l, text.F("Der Server %s meldet eine Nachricht ohne lesbare Nummer („%s“): sie bleibt auf dem Server und wird nicht abgeholt. Bitte den Betreiber des Postfachs informieren.", a.Addr, l)); err != nil {
			return res, "", err
		}
		res.Skipped++
	}
	// A UIDL that the listing gives to more than one message, or that is
	// not 1–70 printable characters, cannot tell whether a message was
	// fetched before: such messages are recognised by their content
	// instead (contentKey), stored once, and never deleted on the server.
	uidlCount := map[string]int{}
	for _, e := range list {
		if e.UIDL != "" {
			uidlCount[e.UIDL]++
		}
	}
	id := func(e Entry) string { return entryID(e, uidlCount) }
	// a message that broke a session of this fetch comes last
	sort.SliceStable(list, func(i, j int) bool { return !brokeOnce[id(list[i])] && brokeOnce[id(list[j])] })
	var pending []store.Message
	var pendingBytes int64
	flush := func() error {
		if err := f.Store.StoreMessages(ctx, pending...); err != nil {
			return err
		}
		res.Fetched += len(pending)
		pending, pendingBytes = nil, 0
		return nil
	}
	// failed handles a RETR that failed: a message over the limit is set
	// aside; a session cut short in the middle of a message is given up
	// (after what was read is stored), the message tried last in a new
	// session, and set aside when it breaks that one too.
	failed := func(e Entry, err error) (string, error) {
		if ferr := flush(); ferr != nil {
			return "", ferr
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		mid := id(e)
		if errors.Is(err, ErrTooLarge) {
			if err := setAside(mid, text.F("Nachricht Nr. %d ist größer als die eingestellte Grenze von %d MB, obwohl der Server %s sie mit %s angekündigt hat; sie bleibt auf dem Server und wird frühestens in 24 Stunden erneut versucht.", e.Num, a.MaxSize>>20, a.Addr, sizeText(e.Size))); err != nil {
				return "", err
			}
			res.Skipped++
			if c.Usable() {
				return "", nil
			}
			return mid, nil
		}
		if !c.Usable() {
			if brokeOnce[mid] {
				if err := setAside(mid, text.F("Beim Abholen von Nachricht Nr. %d (%s) hat der Server %s die Verbindung zweimal mitten in der Nachricht abgebrochen; sie bleibt auf dem Server, die übrigen Nachrichten werden abgeholt, und sie wird frühestens in 24 Stunden erneut versucht. Bitte die Nachricht in Outlook im Web öffnen.", e.Num, sizeText(e.Size), a.Addr)); err != nil {
					return "", err
				}
				res.Skipped++
			}
			return mid, nil
		}
		// -ERR for this message: the others go on, it is tried next time
		said := strings.TrimPrefix(err.Error(), ErrServer.Error()+": ")
		if err := journalOnce("retr:"+mid, text.F("Der Server %s hat Nachricht Nr. %d nicht herausgegeben („%s“); sie bleibt auf dem Server und wird beim nächsten Abruf erneut versucht.", a.Addr, e.Num, said)); err != nil {
			return "", err
		}
		res.Skipped++
		return "", nil
	}
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return res, "", err
		}
		if aside["aside:"+id(e)] {
			if !fs.asideNow[id(e)] {
				res.Skipped++
			}
			continue
		}
		if e.UIDL == "" || uidlCount[e.UIDL] > 1 {
			m, err := f.fetchByContent(ctx, c, a, e, stored, uidlCount[e.UIDL], journalOnce, now)
			if err != nil {
				if b, ferr := failed(e, err); ferr != nil || b != "" {
					return res, b, wrapFetch(a, ferr)
				}
				continue
			}
			if m != nil { // in the order of the server, with the others
				pending = append(pending, *m)
				pendingBytes += int64(len(m.Raw))
			}
			continue
		}
		if f, ok := stored[e.UIDL]; ok {
			// in the store: deleted on the server only once the Kommunikator
			// has it (and it was kept there as long as configured)
			if taken(f, a.LeaveDays, now()) {
				if err := c.Dele(e.Num); err != nil {
					return res, "", fmt.Errorf("fetch %s: %w", a.Address, err)
				}
				res.Deleted++
			}
			continue
		}
		if e.Size > a.MaxSize {
			first, err := f.Store.SkipMessage(ctx, a.Address, e.UIDL, text.F("Nachricht mit %d MB ist größer als die Grenze von %d MB und bleibt auf dem Server.", e.Size>>20, a.MaxSize>>20))
			if err != nil {
				return res, "", err
			}
			if first {
				if err := f.Store.Journal(ctx, store.JournalEntry{At: now(), Worker: a.Address, ItemKey: "pop3:" + e.UIDL, Action: "skip", Result: "error",
					Error: text.F("Nachricht mit %d MB ist größer als die eingestellte Grenze von %d MB; sie bleibt auf dem Server und wird nicht abgeholt.", e.Size>>20, a.MaxSize>>20)}); err != nil {
					return res, "", err
				}
			}
			res.Skipped++
			continue
		}
		raw, err := c.Retr(e.Num, a.MaxSize)
		if err != nil {
			if b, ferr := failed(e, err); ferr != nil || b != "" {
				return res, b, wrapFetch(a, ferr)
			}
			continue
		}
		pending = append(pending, store.Message{Account: a.Address, UIDL: e.UIDL, Raw: raw, Fetched: now()})
		pendingBytes += int64(len(raw))
		if pendingBytes >= batchBytes {
			if err := flush(); err != nil {
				return res, "", fmt.Errorf("fetch %s: %w", a.Address, err)
			}
		}
	}
	if err := flush(); err != nil {
		return res, "", fmt.Errorf("fetch %s: %w", a.Address, err)
	}
	if err := c.Quit(); err != nil {
		return res, "", fmt.Errorf("fetch %s: QUIT: %w", a.Address, err)
	}
	return res, "", nil
}

// sizeText: a message's size for a person (100 Bytes, 12 KB, 3 MB).
func sizeText(n int64) string {
	switch {
	case n < 10<<10:
		return strconv.FormatInt(n, 10) + " Bytes"
	case n < 10<<20:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n>>20, 10) + " MB"
}

func wrapFetch(a Account, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("fetch %s: %w", a.Address, err)
}

// entryID names a message across sessions: its UIDL where that is
// trustworthy, else what the server says of it (without its number) and
// its size.
func entryID(e Entry, uidlCount map[string]int) string {
	if e.UIDL != "" && uidlCount[e.UIDL] == 1 {
		return e.UIDL
	}
	said := e.UIDL
	if said == "" {
		_, said, _ = strings.Cut(e.BadUIDL, " ")
	}
	return "untrusted:" + said + ":" + strconv.FormatInt(e.Size, 10)
}

// fetchByContent reads a message whose UIDL cannot be trusted (repeated in
// the listing, or malformed) and returns it under its content's key when
// that is new, journaled once; it is never deleted on the server.
func (f *Fetcher) fetchByContent(ctx context.Context, c *Client, a Account, e Entry, stored map[string]store.Fetched, times int,
	journalOnce func(key, reason string) error, now func() time.Time) (*store.Message, error) {
	if e.Size > a.MaxSize {
		return nil, journalOnce("size:"+strconv.Itoa(e.Num)+":"+e.UIDL, text.F("Nachricht mit %d MB ist größer als die eingestellte Grenze von %d MB; sie bleibt auf dem Server und wird nicht abgeholt.", e.Size>>20, a.MaxSize>>20))
	}
	raw, err := c.Retr(e.Num, a.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("RETR %d: %w", e.Num, err)
	}
	key := contentKey(raw)
	if _, ok := stored[key]; ok {
		return nil, nil
	}
	if _, ok := stored[e.UIDL]; ok && e.UIDL != "" {
		// the UIDL was unique when a message was stored under it: is this that one?
		m, err := f.Store.StoredMessage(ctx, a.Address, e.UIDL)
		if err != nil {
			return nil, err
		}
		if m != nil && contentKey(m.Raw) == key {
			return nil, nil
		}
	}
	stored[key] = store.Fetched{At: now()} // a twin in the same listing is not taken twice
	reason := text.F("Der Server %s gibt mehreren Nachrichten dieselbe Kennung (UIDL „%s“, %d-mal): die Nachricht wurde abgeholt und bleibt auf dem Server, damit keine verloren geht. Bitte den Betreiber des Postfachs informieren; gelöscht wird sie dort erst, wenn die Kennungen eindeutig sind.", a.Addr, e.UIDL, times)
	if e.UIDL == "" {
		reason = text.F("Der Server %s meldet für eine Nachricht eine ungültige Kennung („%s“): die Nachricht wurde abgeholt und bleibt auf dem Server, damit keine verloren geht. Bitte den Betreiber des Postfachs informieren.", a.Addr, e.BadUIDL)
	}
	if err := journalOnce(key, reason); err != nil {
		return nil, err
	}
	return &store.Message{Account: a.Address, UIDL: key, Raw: raw, Fetched: now()}, nil
}

// contentKey identifies a message by its content where its UIDL cannot:
// "sha256:" and 40 hex digits of the digest (within RFC 1939's 70
// characters; a server's own UIDL equal to it is as unlikely as a collision).
func contentKey(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:20])
}

// dialError marks a failure to reach the server, which a new token cannot cure.
type dialError struct{ error }

func (e dialError) Unwrap() error { return e.error }

// login connects and authenticates; the connection is closed on failure.
func (f *Fetcher) login(ctx context.Context, a Account, token string) (*Client, error) {
	c, err := Dial(ctx, a.Addr, a.Mode, a.TLS, a.Timeout)
	if err != nil {
		return nil, dialError{err}
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.AuthXOAUTH2(a.Address, token); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
