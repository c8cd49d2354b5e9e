// Package keyring keeps kanzleisync's secrets (client secrets, refresh
// tokens) in the operating system's keyring: Windows Credential Manager,
// macOS Keychain, or the Secret Service (GNOME Keyring, KWallet) on Linux.
//
// Windows Credential Manager takes at most 2,560 bytes per entry, and Entra
// refresh tokens come close to that, so every entry is kept at or below
// MaxEntry bytes: a longer secret is split over several entries. The first
// entry, under the key itself, holds a header — a random generation, the
// number of parts and a SHA-256 of the whole secret — and the first part;
// the others, named key#1, key#2 …, each carry the generation and their
// index. A read checks all of it, so a half-written secret or a part left
// from an older one is reported as damaged instead of being used.
package keyring

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	gokeyring "github.com/zalando/go-keyring"
)

// MaxEntry is the most bytes one keyring entry holds, header included.
const MaxEntry = 2000

var (
	// ErrNotFound means that no secret is stored under the key.
	ErrNotFound = errors.New("keyring: secret not found")
	// ErrDamaged means that the parts of a secret do not belong together.
	ErrDamaged = errors.New("keyring: secret is damaged or incomplete")
	// ErrUnavailable means that the OS keyring cannot be reached.
	ErrUnavailable = errors.New("keyring: the system keyring is not available")
	// ErrNoSessionBus: on Linux, this session has no D-Bus session bus to
	// reach the Secret Service over (an SSH session, a service); nothing
	// is autolaunched (ErrUnavailable too).
	ErrNoSessionBus = errors.New("no D-Bus session bus")
)

// Backend is the keyring itself; go-keyring's package functions by default.
type Backend interface {
	Set(service, user, password string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// osBackend is go-keyring, called only when the OS keyring can be reached
// without starting anything: on Linux a session bus that exists (no D-Bus
// autolaunch, which leaves a dbus-daemon behind).
type osBackend struct{}

func (osBackend) Set(s, u, p string) error {
	if err := sessionBus(); err != nil {
		return err
	}
	return gokeyring.Set(s, u, p)
}

func (osBackend) Get(s, u string) (string, error) {
	if err := sessionBus(); err != nil {
		return "", err
	}
	return gokeyring.Get(s, u)
}

func (osBackend) Delete(s, u string) error {
	if err := sessionBus(); err != nil {
		return err
	}
	return gokeyring.Delete(s, u)
}

// Store reads and writes the secrets of one service name.
type Store struct {
	service string
	backend Backend
}

// New returns a store on the OS keyring; every call has Timeout.
func New(service string) *Store {
	return &Store{service: service, backend: withDeadline(osBackend{}, &hanging)}
}

// NewWithBackend returns a store on another backend (tests), with the
// same deadline per call as the OS keyring's.
func NewWithBackend(service string, b Backend) *Store {
	return &Store{service: service, backend: withDeadline(b, new(atomic.Int32))}
}

// Entry layout:
//
//	head:  "ks2:<gen>:<parts>:<sha256 hex>:" + part 0
//	part i: "ks2p:<gen>:<i>:" + part i
const (
	headPrefix = "ks2:"
	partPrefix = "ks2p:"
	genLen     = 16 // hex characters
	headLen    = len(headPrefix) + genLen + 1 + 4 + 1 + 64 + 1
	partLen    = len(partPrefix) + genLen + 1 + 4 + 1
)

func chunkKey(key string, i int) string { return key + "#" + strconv.Itoa(i) }

// wrap reports a failed keyring call. Apart from "too big", every failure
// of the backend means that the keyring cannot be used here (no D-Bus
// session, no Secret Service, a locked or refused keychain).
func wrap(op, key string, err error) error {
	if errors.Is(err, gokeyring.ErrSetDataTooBig) {
		return fmt.Errorf("keyring: %s %s: %w", op, key, err)
	}
	return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, op, key, err)
}

// Set stores a secret, replacing what was stored under the key.
func (s *Store) Set(key, secret string) error {
	first := MaxEntry - headLen
	rest := MaxEntry - partLen
	parts := splitParts(secret, first, rest)
	if len(parts) > 9999 {
		return fmt.Errorf("keyring: secret %s is too long (%d bytes)", key, len(secret))
	}
	genBytes := make([]byte, genLen/2)
	_, _ = rand.Read(genBytes)
	gen := hex.EncodeToString(genBytes)
	sum := sha256.Sum256([]byte(secret))
	old := s.parts(key)
	// later parts first, the header last: a reader never sees a header
	// that points at parts not yet written
	for i := len(parts) - 1; i >= 1; i-- {
		entry := fmt.Sprintf("%s%s:%04d:%s", partPrefix, gen, i, parts[i])
		if err := s.backend.Set(s.service, chunkKey(key, i), entry); err != nil {
			return wrap("store", chunkKey(key, i), err)
		}
	}
	head := fmt.Sprintf("%s%s:%04d:%s:%s", headPrefix, gen, len(parts), hex.EncodeToString(sum[:]), parts[0])
	if err := s.backend.Set(s.service, key, head); err != nil {
		return wrap("store", key, err)
	}
	for i := len(parts); i < old; i++ {
		_ = s.backend.Delete(s.service, chunkKey(key, i))
	}
	return nil
}

// Get returns a stored secret; ErrNotFound when there is none, ErrDamaged
// when its parts do not fit together.
func (s *Store) Get(key string) (string, error) {
	head, err := s.backend.Get(s.service, key)
	if errors.Is(err, gokeyring.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", wrap("read", key, err)
	}
	gen, n, sum, first, ok := parseHead(head)
	if !ok {
		return "", fmt.Errorf("%w: %s has no valid header", ErrDamaged, key)
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i < n; i++ {
		entry, err := s.backend.Get(s.service, chunkKey(key, i))
		if errors.Is(err, gokeyring.ErrNotFound) {
			return "", fmt.Errorf("%w: %s part %d of %d is missing", ErrDamaged, key, i, n)
		}
		if err != nil {
			return "", wrap("read", chunkKey(key, i), err)
		}
		pgen, idx, body, ok := parsePart(entry)
		if !ok || pgen != gen || idx != i {
			return "", fmt.Errorf("%w: %s part %d belongs to another secret", ErrDamaged, key, i)
		}
		b.WriteString(body)
	}
	got := sha256.Sum256([]byte(b.String()))
	if hex.EncodeToString(got[:]) != sum {
		return "", fmt.Errorf("%w: %s does not match its checksum", ErrDamaged, key)
	}
	return b.String(), nil
}

// Delete removes a secret and its parts; deleting a missing secret is no error.
func (s *Store) Delete(key string) error {
	n := s.parts(key)
	if err := s.backend.Delete(s.service, key); err != nil && !errors.Is(err, gokeyring.ErrNotFound) {
		return wrap("delete", key, err)
	}
	for i := 1; i < n; i++ {
		if err := s.backend.Delete(s.service, chunkKey(key, i)); err != nil && !errors.Is(err, gokeyring.ErrNotFound) {
			return wrap("delete", chunkKey(key, i), err)
		}
	}
	return nil
}

// parts reports how many entries the secret under key occupies (0 if none).
func (s *Store) parts(key string) int {
	head, err := s.backend.Get(s.service, key)
	if err != nil {
		return 0
	}
	if _, n, _, _, ok := parseHead(head); ok {
		return n
	}
	return 1
}

func parseHead(head string) (gen string, n int, sum, first string, ok bool) {
	rest, ok := strings.CutPrefix(head, headPrefix)
	if !ok || len(rest) < headLen-len(headPrefix) {
		return "", 0, "", "", false
	}
	fields := strings.SplitN(rest, ":", 4)
	if len(fields) != 4 || len(fields[0]) != genLen || len(fields[2]) != 64 {
		return "", 0, "", "", false
	}
	n, err := strconv.Atoi(fields[1])
	if err != nil || n < 1 {
		return "", 0, "", "", false
	}
	return fields[0], n, fields[2], fields[3], true
}

func parsePart(entry string) (gen string, idx int, body string, ok bool) {
	rest, ok := strings.CutPrefix(entry, partPrefix)
	if !ok {
		return "", 0, "", false
	}
	fields := strings.SplitN(rest, ":", 3)
	if len(fields) != 3 || len(fields[0]) != genLen {
		return "", 0, "", false
	}
	idx, err := strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, "", false
	}
	return fields[0], idx, fields[2], true
}

// splitParts cuts s into a first part of at most first bytes and further
// parts of at most rest bytes, never inside a UTF-8 sequence.
func splitParts(s string, first, rest int) []string {
	var parts []string
	size := first
	for len(s) > size {
		cut := size
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		parts = append(parts, s[:cut])
		s = s[cut:]
		size = rest
	}
	return append(parts, s)
}
