// Package instance keeps one kanzleisync per user: the first instance
// listens on a loopback port named in a file in the user's data directory;
// a second one finds it there, asks it to show itself, and exits.
package instance

import (
	"bufio"
	"crypto/rand"
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

// ask connects to a recorded instance and asks it to show itself.
func ask(r record) bool {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "show %s\n", r.Token); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "ok"
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
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "show "+token {
				return // not ours: a port scanner or a stale file of another user
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
