package handoff_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// conn is a scripted POP3 client for the cases poplib cannot show.
type conn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, s *server) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	p := &conn{conn: c, r: bufio.NewReader(c)}
	if l := p.line(t); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	return p
}

func (c *conn) line(t *testing.T) string {
	t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *conn) send(t *testing.T, cmd string) string {
	t.Helper()
	if _, err := c.conn.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	return c.line(t)
}

func (c *conn) cmd(t *testing.T, cmd, want string) {
	t.Helper()
	if got := c.send(t, cmd); !strings.HasPrefix(got, want) {
		t.Fatalf("%s: %q, want %q…", cmd, got, want)
	}
}
