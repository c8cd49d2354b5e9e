package translog

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kanzleisync/app/testsupport"
)

func TestRotationAndMasking(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "transfer.log")
	l, err := Open(path, 400, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm5hIn0.c2lnbmF0dXJl"
	l.Connection("POP3", "anna@k.example", "outlook.office365.com:995", errors.New("AUTH XOAUTH2 user=anna auth=Bearer "+jwt+" refused"))
	l.Transfer("anna@k.example", "termin:1", "create", "ok", "req-1", "Zeile1\nZeile2 | mit Strich")
	for range 20 {
		l.Transfer("anna@k.example", "frist:2", "update", "ok", "req-2", "")
	}
	all := ""
	for _, f := range []string{path, path + ".1", path + ".2"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(b) > 400 {
			t.Errorf("%s has %d bytes, limit 400", f, len(b))
		}
		all += string(b)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more old files kept than asked for")
	}
	if strings.Contains(all, jwt) || strings.Contains(all, "c2lnbmF0dXJl") {
		t.Fatal("a token reached the transfer log")
	}
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		if strings.Count(line, " | ") < 3 {
			t.Errorf("broken line %q", line)
		}
	}
}

func TestDebugHandler(t *testing.T) {
	path := filepath.Join(testsupport.TempDir(t), "transfer.log")
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := slog.New(Tee(slog.DiscardHandler, l.Handler()))
	log.Debug("graph request", "method", "POST", "url", "https://graph.microsoft.com/v1.0/$batch", "status", 200)
	l.SetDebug(true)
	log.Debug("graph request", "method", "PATCH", "url", "https://graph.microsoft.com/v1.0/me/events/1", "status", 200, "request_id", "r-9")
	log.Info("something else")
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "GRAPH | method=PATCH | url=https://graph.microsoft.com/v1.0/me/events/1 | status=200 | request_id=r-9") {
		t.Fatalf("log:\n%s", b)
	}
}
