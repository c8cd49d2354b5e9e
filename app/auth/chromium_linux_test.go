package auth_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"kanzleisync/app/m365sim"
)

// TestSignInWithHeadlessChromium signs in through a real browser: Chromium
// opens the emulator's page, which fills itself in (AutoSignIn), and
// follows the redirect to kanzleisync's loopback listener.
func TestSignInWithHeadlessChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KANZLEISYNC_IN_KEYRING_SESSION") != "" {
			t.Fatal("chromium is missing; make test installs it")
		}
		t.Skip("chromium is not installed")
	}
	e := newEnv(t, nil, m365sim.Options{AutoSignIn: true})
	profile, err := os.MkdirTemp("", "kanzleisync-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helper processes may still be finishing writes
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opener := func(u string) error {
		cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--disable-quic", "--user-data-dir="+profile, u)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return err
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole process group
			_ = cmd.Wait()
		})
		return nil
	}
	if _, err := signIn(t, e, anna, opener); err != nil {
		t.Fatalf("sign in with Chromium: %v", err)
	}
	e.checkSignedIn(anna)
}
