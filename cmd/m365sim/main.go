// Command m365sim runs the Microsoft 365 emulator on loopback: Entra ID,
// Graph, POP3 and SMTP, with the demo tenant or a tenant file.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kanzleisync/app/m365sim"
)

func main() {
	var (
		httpAddr  = flag.String("http", "127.0.0.1:8365", "address of Entra ID and Graph")
		pop3Addr  = flag.String("pop3", "127.0.0.1:11110", "address of POP3 with STLS (- to switch off)")
		pop3sAddr = flag.String("pop3s", "127.0.0.1:9950", "address of POP3 with implicit TLS (- to switch off)")
		smtpAddr  = flag.String("smtp", "127.0.0.1:5870", "address of SMTP submission with STARTTLS (- to switch off)")
		tenants   = flag.String("tenants", "", "tenant file (JSON); default: the built-in demo tenant")
		state     = flag.String("state", "", "state file to load at start and save at exit")
		faults    = flag.String("faults", "", "injected Graph errors, e.g. 429=0.1,503=0.05")
		latency   = flag.Duration("latency", 0, "network latency added to each Graph HTTP request")
		jitter    = flag.Duration("jitter", 0, "random extra latency up to this value")
		reset     = flag.Float64("reset", 0, "probability of dropping a Graph connection")
		enforceRA = flag.Bool("enforce-retry-after", false, "fail clients that retry before Retry-After has passed")
		caOut     = flag.String("ca-out", "", "write the TLS certificate of POP3/SMTP to this file")
		printDemo = flag.Bool("print-demo-tenant", false, "print the demo tenant file and exit")
		verbose   = flag.Bool("v", false, "log every request")
	)
	flag.Parse()
	if err := run(*httpAddr, *pop3Addr, *pop3sAddr, *smtpAddr, *tenants, *state, *faults, *latency, *jitter, *reset, *enforceRA, *caOut, *printDemo, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "m365sim:", err)
		os.Exit(1)
	}
}

func run(httpAddr, pop3Addr, pop3sAddr, smtpAddr, tenants, state, faults string, latency, jitter time.Duration,
	reset float64, enforceRA bool, caOut string, printDemo, verbose bool) error {
	tf := m365sim.DemoTenant(time.Now())
	if printDemo {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(tf)
	}
	if tenants != "" {
		var err error
		if tf, err = m365sim.LoadTenantFile(tenants); err != nil {
			return err
		}
	}
	f, err := parseFaults(faults)
	if err != nil {
		return err
	}
	f.Latency, f.Jitter, f.Reset, f.EnforceRetryAfter = m365sim.Duration(latency), m365sim.Duration(jitter), reset, enforceRA
	tf.Faults = f
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	srv, err := m365sim.New(tf, m365sim.Options{HTTPAddr: httpAddr, POP3Addr: pop3Addr, POP3SAddr: pop3sAddr, SMTPAddr: smtpAddr,
		StateFile: state, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	if caOut != "" {
		if err := os.WriteFile(caOut, srv.CACertPEM(), 0o644); err != nil {
			return err
		}
	}
	printBanner(srv, tf, tenants == "", caOut)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Println("m365sim: stopping")
	return srv.Close()
}

func parseFaults(spec string) (m365sim.Faults, error) {
	f := m365sim.Faults{Status: map[int]float64{}}
	if spec == "" {
		return f, nil
	}
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(part, "=")
		code, err1 := strconv.Atoi(strings.TrimSpace(k))
		p, err2 := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err1 != nil || err2 != nil || p < 0 || p > 1 {
			return f, fmt.Errorf("-faults: %q is not STATUS=PROBABILITY, e.g. 429=0.1", part)
		}
		switch code {
		case 429, 500, 502, 503, 504:
		default:
			return f, fmt.Errorf("-faults: status %d cannot be injected (429, 500, 502, 503, 504)", code)
		}
		f.Status[code] = p
	}
	return f, nil
}

func printBanner(srv *m365sim.Server, tf *m365sim.TenantFile, demo bool, caOut string) {
	t := tf.Tenants[0]
	fmt.Printf(`m365sim — Microsoft 365 emulator (loopback only)

  Entra ID authority   %s
  Graph v1.0           %s
  POP3 (STLS)          %s
  POP3 (TLS)           %s
  SMTP (STARTTLS)      %s
  Inspection API       %s/_sim/state/{upn}

Tenant %q: id %s, domains %s
`, srv.AuthorityURL(t.ID), srv.GraphURL(), orOff(srv.POP3Addr()), orOff(srv.POP3SAddr()), orOff(srv.SMTPAddr()), srv.URL(),
		t.DisplayName, t.ID, strings.Join(t.Domains, ", "))
	for _, a := range t.Apps {
		fmt.Printf("  App %q: client id %s, redirect URIs %s\n", a.DisplayName, a.ClientID, strings.Join(a.RedirectURIs, " "))
		if demo {
			for _, s := range a.Secrets {
				fmt.Printf("    demo client secret (emulator only): %s, expires %s\n", s.Value, s.Expires.Format("2006-01-02"))
			}
		}
	}
	for _, u := range t.Users {
		if demo {
			fmt.Printf("  User %-34s password %s\n", u.UPN, u.Password)
		} else {
			fmt.Printf("  User %s\n", u.UPN)
		}
	}
	if len(t.Apps) > 0 && len(t.Users) > 0 {
		fmt.Printf("\nSign in: open %s/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=%s&scope=openid+offline_access+Calendars.ReadWrite&prompt=select_account\n",
			srv.AuthorityURL(t.ID), t.Apps[0].ClientID, t.Apps[0].RedirectURIs[0])
	}
	if len(t.Apps) > 0 {
		ca := caOut
		if ca == "" {
			ca = "ca.pem (start with -ca-out ca.pem)"
		}
		pop, smtp := srv.POP3SAddr(), srv.SMTPAddr()
		fmt.Printf(`
Point kanzleisync at it (see docs/einrichtung.md for the order):
  kanzleisync config entity set --name Kanzlei --tenant %s --client-id %s \
      --authority-host %s --graph-endpoint %s --secret-stdin
  kanzleisync config worker set … --account ADDRESS,pop3=%s,smtp=%s
  POP3/SMTP use the emulator's own certificate: SSL_CERT_FILE=%s kanzleisync …
`, t.ID, t.Apps[0].ClientID, srv.URL(), srv.URL(), orOff(pop), orOff(smtp), ca)
	}
	fmt.Println("\nPress Ctrl+C to stop.")
}

func orOff(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr
}
