// Package testsupport holds what the tests of several packages share:
// waiting for an observable condition instead of sleeping, a static token
// source, and the harness that re-executes the test binary as a child and
// kills it with SIGKILL. Only tests import it.
package testsupport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Eventually waits until cond holds (checked every 20 ms) and returns how
// long that took; after limit the test fails, naming what was awaited.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not within %s: %s", limit, what)
	return 0
}

// StaticTokens is a token source that always has the same access token.
type StaticTokens struct{ Token string }

// TokenContext returns the token.
func (s StaticTokens) TokenContext(context.Context) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: s.Token}, nil
}

// Renew returns the token again.
func (s StaticTokens) Renew(ctx context.Context) (*oauth2.Token, error) { return s.TokenContext(ctx) }

// Child is the test binary run again as a child process for one test.
type Child struct {
	cmd    *exec.Cmd
	done   chan error
	exited chan struct{}
}

// StartChild runs the test named run (a ^…$ pattern is made of it) in a
// new process of the test binary, with env added to this one's.
func StartChild(t testing.TB, run string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{cmd: cmd, done: make(chan error, 1), exited: make(chan struct{})}
	go func() {
		c.done <- cmd.Wait()
		close(c.exited)
	}()
	return c
}

// Exited is closed once the child process has ended.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// KillOn waits for the child to end or for kill; on kill it sends SIGKILL
// and waits for the process to be gone. It reports whether the child ended
// by itself, and with what.
func (c *Child) KillOn(kill <-chan struct{}) (finished bool, err error) {
	select {
	case err := <-c.done:
		return true, err
	case <-kill:
		_ = c.cmd.Process.Kill()
		<-c.done
		return false, nil
	}
}

// After is a kill channel that fires after d.
func After(d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(d, func() { close(ch) })
	return ch
}

// TLSFromPEM trusts the emulator's certificate (m365sim -ca-out) for
// 127.0.0.1, as a child process gets it.
func TLSFromPEM(pem []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Kills is the number of kills a kill test makes: KANZLEISYNC_KILLS (make
// bench sets more), else def. In the child process (childEnv set) the
// test is skipped: there it only runs its child's part.
func Kills(t testing.TB, childEnv string, def int) int {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		t.Skip("this is the child's test binary")
	}
	if n, err := strconv.Atoi(os.Getenv("KANZLEISYNC_KILLS")); err == nil && n > 0 {
		return n
	}
	return def
}
