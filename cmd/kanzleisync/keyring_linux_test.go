package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kanzleisync/app/testsupport"
)

// The keyring never hangs the command line: `config entity set
// --secret-stdin` against a session bus that accepts and never answers
// fails after the keyring's 5 s with the German advice, and without any
// session bus it fails at once and starts no dbus-daemon (a stand-in
// dbus-launch on PATH would leave a mark). Nothing of the entity is stored.
func TestKeyringNeverHangs(t *testing.T) {
	dir := testsupport.TempDir(t)
	bin := filepath.Join(dir, "kanzleisync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	silent := filepath.Join(dir, "silent-bus")
	ln, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn // accepted, never answered
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	mark := filepath.Join(dir, "dbus-launch-started")
	if err := os.WriteFile(filepath.Join(dir, "dbus-launch"), []byte("#!/bin/sh\ntouch "+mark+"\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var base []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(e, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(e, "PATH=") {
			base = append(base, e)
		}
	}
	data := filepath.Join(dir, "data")
	base = append(base, "PATH="+dir+":"+os.Getenv("PATH"), "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"KANZLEISYNC_ADMIN_PASSWORD=Kanzlei-Admin-2026", "KANZLEISYNC_POLICY_FILE="+filepath.Join(dir, "keine-policy.json"))
	run := func(env []string, stdin string, args ...string) (string, int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a guard, not a figure
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-data-dir", data}, args...)...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode(), took
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out), 0, took
	}
	if out, code, _ := run(base, "Kanzlei-Admin-2026\n", "admin", "password", "set"); code != 0 {
		t.Fatalf("admin password: %s", out)
	}
	set := []string{"config", "entity", "set", "--name", "Kanzlei", "--tenant", "6f1c2b7e-3d4a-4e59-9a1b-2c3d4e5f6a7b",
		"--client-id", "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b", "--secret-stdin"}
	const secret = "Abc8Q~xYz.1234567890abcdefghijKLMNOP"
	for _, tc := range []struct {
		name, bus, want string
	}{
		{"a session bus that never answers", "DBUS_SESSION_BUS_ADDRESS=unix:path=" + silent, "nicht innerhalb von 5 Sekunden geantwortet"},
		{"no session bus", "", "keinen D-Bus-Sitzungsbus"},
	} {
		if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil && tc.bus == "" {
			t.Logf("%s: not tried, this machine has a user bus in /run/user", tc.name)
			continue
		}
		env := append([]string{}, base...)
		if tc.bus != "" {
			env = append(env, tc.bus)
		}
		out, code, took := run(env, secret+"\n", set...)
		t.Logf("%s: exit %d after %v", tc.name, code, took.Round(time.Millisecond))
		if code != 1 || !strings.Contains(out, tc.want) || !strings.Contains(out, "Schlüsselspeicher") || strings.Contains(out, secret) {
			t.Errorf("%s: exit %d\n%s", tc.name, code, out)
		}
		if show, _, _ := run(env, "", "config", "show"); strings.Contains(show, "Entität „Kanzlei“") {
			t.Errorf("%s: the entity was stored without its secret:\n%s", tc.name, show)
		}
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("dbus-launch was started")
	}
}
