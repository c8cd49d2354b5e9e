package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/m365sim"
	"kanzleisync/app/m365sim/simtest"
	"kanzleisync/app/source"
	"kanzleisync/app/store"
	"kanzleisync/app/testsupport"
	"kanzleisync/platform/keyring/keyringtest"
)

// TestIdleFigures measures the tray application idling with five signed-in
// mail accounts (make bench): the real binary in a real window session
// (Xvfb), the emulator in this process so that its work is not counted.
// CPU is read from /proc over IDLE_SECONDS (default 180 s: three mail
// intervals and an export cycle), after a warm-up in which the first export
// and fetch run.
func TestIdleFigures(t *testing.T) {
	if os.Getenv("KANZLEISYNC_FIGURES") == "" {
		t.Skip("a figure for make bench (KANZLEISYNC_FIGURES=1)")
	}
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("needs Xvfb")
	}
	window := 180 * time.Second
	if s, err := strconv.Atoi(os.Getenv("IDLE_SECONDS")); err == nil && s > 0 {
		window = time.Duration(s) * time.Second
	}
	ctx := context.Background()
	dir := testsupport.TempDir(t)
	bin := filepath.Join(dir, "kanzleisync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	tf := m365sim.DemoTenant(time.Now())
	workers := append(append([]source.Worker(nil), source.DemoWorkers...), addUsers(tf, 2)...)
	sim := simtest.Start(t, tf, m365sim.Options{})
	cache := filepath.Join(dir, "cache.sqlite")
	if err := source.Generate(ctx, cache, source.GenOptions{Seed: 5, Workers: workers, Appointments: 40, Deadlines: 20, Resubmissions: 10,
		Addresses: 50, Subscriptions: 20, From: time.Date(2026, 1, 1, 0, 0, 0, 0, source.Berlin)}); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(data, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	repo := config.NewRepo(st.DB())
	keys := []string{auth.SecretKey("Kanzlei")}
	for _, w := range workers {
		keys = append(keys, auth.RefreshKey(w.UPN))
	}
	secrets, service := keyringtest.Real(t, keys...)
	mgr := auth.NewManager(repo, secrets, auth.Options{})
	if err := repo.SaveEntity(ctx, config.Entity{Name: "Kanzlei", Tenant: m365sim.DemoTenantID, ClientID: m365sim.DemoClientID,
		SecretExpires: config.Date{Time: time.Now().AddDate(1, 0, 0)}, AuthorityHost: sim.URL(), GraphEndpoint: sim.URL(), CachePath: cache}); err != nil {
		t.Fatal(err)
	}
	active := config.DefaultSettings()
	active.InterfaceActive = true
	if err := repo.SaveSettings(ctx, active); err != nil {
		t.Fatal(err)
	}
	if err := mgr.SetClientSecret("Kanzlei", m365sim.DemoClientSecret); err != nil {
		t.Fatal(err)
	}
	host, p, _ := net.SplitHostPort(sim.POP3SAddr())
	pop3Port, _ := strconv.Atoi(p)
	_, p, _ = net.SplitHostPort(sim.SMTPAddr())
	smtpPort, _ := strconv.Atoi(p)
	for _, w := range workers {
		acc := config.MailAccount{Address: w.UPN, POP3Host: host, POP3Port: pop3Port, SMTPHost: host, SMTPPort: smtpPort}.WithDefaults()
		if err := repo.SaveWorker(ctx, config.Worker{UPN: w.UPN, DisplayName: w.Name, Entity: "Kanzlei", Modules: config.AllModules,
			Accounts: []config.MailAccount{acc}}); err != nil {
			t.Fatal(err)
		}
		if _, err := mgr.SignIn(ctx, w.UPN, auth.SignInOptions{ListenAddr: "127.0.0.1:0", Timeout: 30 * time.Second, OpenBrowser: m365sim.AnswerSignIn(m365sim.DemoPassword, func(err error) { t.Error(err) })}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	// The mail servers' certificate comes from the emulator: the child
	// trusts it as its system roots.
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	display := startXvfb(t)
	// idle runs the tray, lets it warm up and measures it over the window
	idle := func(env ...string) (cpu float64, rss, hwm int64, took time.Duration) {
		cmd := exec.Command(bin, "-data-dir", data)
		cmd.Env = append(append(os.Environ(), "DISPLAY="+display, "SSL_CERT_FILE="+ca, "KANZLEISYNC_KEYRING_SERVICE="+service, "LANG=de_DE.UTF-8"), env...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Signal(syscall.SIGINT); _ = cmd.Wait() }()
		time.Sleep(30 * time.Second) // start, first export of 5 × 140 items, first fetch
		t0, c0 := time.Now(), cpuTicks(t, cmd.Process.Pid)
		time.Sleep(window)
		t1, c1 := time.Now(), cpuTicks(t, cmd.Process.Pid)
		rss, hwm = memKB(t, cmd.Process.Pid, "VmRSS:"), memKB(t, cmd.Process.Pid, "VmHWM:")
		const clkTck = 100 // USER_HZ on Linux
		return float64(c1-c0) / clkTck / t1.Sub(t0).Seconds() * 100, rss, hwm, t1.Sub(t0)
	}
	cpu, rss, hwm, took := idle()
	// the peer in the same run: the interval alone, without the cache watcher
	cpuNoWatch, _, _, _ := idle("KANZLEISYNC_WATCH_CACHE=off")

	// it really worked while idling: every worker exported and every account was fetched
	st, err = store.Open(filepath.Join(data, "kanzleisync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, w := range workers {
		j, _ := st.ReadJournal(ctx, store.JournalFilter{Worker: w.UPN, Result: "ok", Limit: 1})
		if len(j) == 0 {
			t.Errorf("%s: nothing exported", w.UPN)
		}
	}
	logs, _ := os.ReadFile(filepath.Join(data, "kanzleisync.log"))
	if n := strings.Count(string(logs), "mail fetch failed"); n > 0 {
		t.Errorf("%d failed fetches while idling:\n%s", n, logs)
	}
	t.Logf("idle over %.0f s with 5 accounts", took.Seconds())
	fmt.Printf("figure: idle_cpu_percent = %.2f %%\n", cpu)
	fmt.Printf("figure: idle_cpu_percent_without_watcher = %.2f %%\n", cpuNoWatch)
	fmt.Printf("figure: idle_rss_mb = %.1f MB\n", float64(rss)/1024)
	fmt.Printf("figure: idle_peak_rss_mb = %.1f MB\n", float64(hwm)/1024)
}

func startXvfb(t *testing.T) string {
	for n := 140; n < 180; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		display := fmt.Sprintf(":%d", n)
		x := exec.Command("Xvfb", display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = x.Process.Kill(); _ = x.Wait() })
		for range 50 {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
				return display
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("Xvfb %s did not start", display)
	}
	t.Fatal("no free X display")
	return ""
}

// cpuTicks is utime+stime of a process in clock ticks (/proc/PID/stat).
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func memKB(t *testing.T, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	t.Fatalf("%s not in /proc/%d/status", field, pid)
	return 0
}
