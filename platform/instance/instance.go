// Package instance keeps one kanzleisync per user: the first instance
// listens on a loopback port named in a file in the user's data directory;
// a second one finds it there, asks it to show itself, and exits.
package instance

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kanzleisync/app/text"
)

// ErrRunning means another instance runs and was asked to show itself.
var ErrRunning = text.New("kanzleisync läuft bereits; das laufende Programm wurde nach vorn geholt")

// Lock is held by the first instance until Close.
type Lock struct {
	ln   net.Listener
	file string
}

type record struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

const fileName = "instance.json"

// Acquire makes this process the user's instance, calling onShow (from a
// background goroutine) whenever a later start asks for the window. When an
// instance runs already, it is asked to show itself and ErrRunning is
// returned.
func Acquire(dir string, onShow func()) (*Lock, error) {
	file := filepath.Join(dir, fileName)
	if b, err := os.ReadFile(file); err == nil {
		var r record
		if json.Unmarshal(b, &r) == nil && ask(r) {
			return nil, ErrRunning
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("instance: listen on loopback: %w", err)
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	r := record{Addr: ln.Addr().String(), Token: hex.EncodeToString(tok), PID: os.Getpid()}
	b, _ := json.Marshal(r)
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		ln.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	go serve(ln, r.Token, onShow)
	return &Lock{ln: ln, file: file}, nil
}

// The channel proves knowledge of the token both ways and never sends it:
// the asker sends "hello NONCE"; the instance answers "proof MAC NONCE2"
// with MAC = HMAC(token, "instance " + NONCE); only then the asker sends
// "show MAC2" with MAC2 = HMAC(token, "show " + NONCE2), and the instance
// answers "ok". A process that took over the port of a crashed instance
// (issue 19) cannot give the proof: the asker then starts as the instance
// itself instead of exiting with "läuft bereits".

func mac(token, what string) string {
	h := hmac.New(sha256.New, []byte(token))
	h.Write([]byte(what))
	return hex.EncodeToString(h.Sum(nil))
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readLine reads one short line (a peer that sends more is not ours).
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for len(b) < 256 {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return strings.TrimSpace(string(b)), nil
		}
		b = append(b, c)
	}
	return "", fmt.Errorf("instance: line too long")
}

// ask connects to a recorded instance and asks it to show itself; false
// when nothing answers there that knows the token.
func ask(r record) bool {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	mine := nonce()
	if _, err := fmt.Fprintf(c, "hello %s\n", mine); err != nil {
		return false
	}
	br := bufio.NewReader(c)
	line, err := readLine(br)
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "proof" || !hmac.Equal([]byte(f[1]), []byte(mac(r.Token, "instance "+mine))) {
		return false // not the instance: a squatter on a stale port
	}
	if _, err := fmt.Fprintf(c, "show %s\n", mac(r.Token, "show "+f[2])); err != nil {
		return false
	}
	line, err = readLine(br)
	return err == nil && line == "ok"
}

func serve(ln net.Listener, token string, onShow func()) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			br := bufio.NewReader(c)
			line, err := readLine(br)
			f := strings.Fields(line)
			if err != nil || len(f) != 2 || f[0] != "hello" || len(f[1]) < 16 {
				return // not ours: a port scanner
			}
			theirs := nonce()
			if _, err := fmt.Fprintf(c, "proof %s %s\n", mac(token, "instance "+f[1]), theirs); err != nil {
				return
			}
			line, err = readLine(br)
			f = strings.Fields(line)
			if err != nil || len(f) != 2 || f[0] != "show" || !hmac.Equal([]byte(f[1]), []byte(mac(token, "show "+theirs))) {
				return // a stale file of another user, or a guess
			}
			_, _ = fmt.Fprintln(c, "ok")
			if onShow != nil {
				onShow()
			}
		}()
	}
}

// Close gives up the instance; the next start becomes the instance.
func (l *Lock) Close() error {
	_ = os.Remove(l.file)
	return l.ln.Close()
}
