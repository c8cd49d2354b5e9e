// Package keyring keeps kanzleisync's secrets (client secrets, refresh
// tokens) in the operating system's keyring: Windows Credential Manager,
// macOS Keychain, or the Secret Service (GNOME Keyring, KWallet) on Linux.
//
// Windows Credential Manager takes at most 2,560 bytes per entry, and Entra
// refresh tokens can come close to or exceed that; a secret longer than
// ChunkSize is therefore split over several entries: the first holds a
// header and the first part, the others are named key#1, key#2, ….
package keyring

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	gokeyring "github.com/zalando/go-keyring"
)

// ChunkSize is the largest part stored in one entry: below Windows' limit
// of 2,560 bytes, with room for the header.
const ChunkSize = 2000

// ErrNotFound means that no secret is stored under the key.
var ErrNotFound = errors.New("keyring: secret not found")

// Backend is the keyring itself; go-keyring's package functions by default.
type Backend interface {
	Set(service, user, password string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

type osBackend struct{}

func (osBackend) Set(s, u, p string) error        { return gokeyring.Set(s, u, p) }
func (osBackend) Get(s, u string) (string, error) { return gokeyring.Get(s, u) }
func (osBackend) Delete(s, u string) error        { return gokeyring.Delete(s, u) }

// Store reads and writes the secrets of one service name.
type Store struct {
	service string
	backend Backend
}

// New returns a store on the OS keyring.
func New(service string) *Store { return &Store{service: service, backend: osBackend{}} }

// NewWithBackend returns a store on another backend (tests).
func NewWithBackend(service string, b Backend) *Store { return &Store{service: service, backend: b} }

// header is "ks1:<parts>:" in front of the first part.
const headerPrefix = "ks1:"

func chunkKey(key string, i int) string { return key + "#" + strconv.Itoa(i) }

// Set stores a secret, replacing what was stored under the key.
func (s *Store) Set(key, secret string) error {
	parts := split(secret, ChunkSize)
	old := s.parts(key)
	// later parts first, the header last: a reader never sees a header
	// that points at parts not yet written
	for i := len(parts) - 1; i >= 1; i-- {
		if err := s.backend.Set(s.service, chunkKey(key, i), parts[i]); err != nil {
			return fmt.Errorf("keyring: store %s part %d: %w", key, i, err)
		}
	}
	head := headerPrefix + strconv.Itoa(len(parts)) + ":" + parts[0]
	if err := s.backend.Set(s.service, key, head); err != nil {
		return fmt.Errorf("keyring: store %s: %w", key, err)
	}
	for i := len(parts); i < old; i++ {
		_ = s.backend.Delete(s.service, chunkKey(key, i))
	}
	return nil
}

// Get returns a stored secret, or ErrNotFound.
func (s *Store) Get(key string) (string, error) {
	head, err := s.backend.Get(s.service, key)
	if errors.Is(err, gokeyring.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("keyring: read %s: %w", key, err)
	}
	n, first, ok := parseHeader(head)
	if !ok {
		// written by something else: take it as it is
		return head, nil
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i < n; i++ {
		part, err := s.backend.Get(s.service, chunkKey(key, i))
		if err != nil {
			return "", fmt.Errorf("keyring: read %s part %d of %d: %w", key, i, n, err)
		}
		b.WriteString(part)
	}
	return b.String(), nil
}

// Delete removes a secret and its parts; deleting a missing secret is no error.
func (s *Store) Delete(key string) error {
	n := s.parts(key)
	if err := s.backend.Delete(s.service, key); err != nil && !errors.Is(err, gokeyring.ErrNotFound) {
		return fmt.Errorf("keyring: delete %s: %w", key, err)
	}
	for i := 1; i < n; i++ {
		if err := s.backend.Delete(s.service, chunkKey(key, i)); err != nil && !errors.Is(err, gokeyring.ErrNotFound) {
			return fmt.Errorf("keyring: delete %s part %d: %w", key, i, err)
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
	if n, _, ok := parseHeader(head); ok {
		return n
	}
	return 1
}

func parseHeader(head string) (int, string, bool) {
	rest, ok := strings.CutPrefix(head, headerPrefix)
	if !ok {
		return 0, "", false
	}
	num, first, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 {
		return 0, "", false
	}
	return n, first, true
}

// split cuts s into parts of at most size bytes without splitting a UTF-8 sequence.
func split(s string, size int) []string {
	if len(s) <= size {
		return []string{s}
	}
	var parts []string
	for len(s) > size {
		cut := size
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		parts = append(parts, s[:cut])
		s = s[cut:]
	}
	return append(parts, s)
}
