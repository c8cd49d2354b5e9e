package service

import (
	"runtime"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	c := Config{Exe: `C:\Program Files\kanzleisync\kanzleisync.exe`, DataDir: `D:\Daten Kanzlei\server\`, Listen: "127.0.0.1:9465"}
	got := c.CommandLine()
	want := `"C:\Program Files\kanzleisync\kanzleisync.exe" -data-dir "D:\Daten Kanzlei\server\\" serve --listen 127.0.0.1:9465`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if a := (Config{Exe: "k.exe"}).Args(); strings.Join(a, " ") != "serve" {
		t.Errorf("args %q", a)
	}
	for in, want := range map[string]string{`a"b`: `"a\"b"`, `x\"`: `"x\\\""`, ``: `""`, `plain`: `plain`} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLinuxExplainsSystemd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	if err := Install(Config{Exe: "/usr/bin/kanzleisync"}); err == nil || !strings.Contains(err.Error(), "docs/kanzleisync.service") {
		t.Fatalf("Install on Linux: %v", err)
	}
}
