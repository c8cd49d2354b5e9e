package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"kanzleisync/app/core"
	"kanzleisync/app/server"
	"kanzleisync/app/text"
	"kanzleisync/platform/service"
)

// runServe is `kanzleisync serve`: the headless exporter for the whole firm
// (as a Windows service when the service manager started it).
func runServe(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9465", text.T("Adresse des Statusdienstes (/health, /metrics; nur Loopback)"))
	ttl := fs.Duration("lease", 30*time.Second, text.T("Dauer der Export-Sperre; ein zweiter Server übernimmt spätestens danach"))
	interval := fs.Duration("interval", 2*time.Minute, text.T("Abstand der Synchronisationen"))
	parallel := fs.Int("parallel", 50, text.T("höchstens so viele Postfächer gleichzeitig (0: alle)"))
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if msg := serveFlagProblem(*listen, *ttl, *interval, *parallel); msg != "" {
		fmt.Fprintln(os.Stderr, "kanzleisync "+msg)
		return 2
	}
	srv := newServer(e, *listen, *ttl, *interval, *parallel)
	srv.OnListen = func(addr string) {
		fmt.Printf(text.T("kanzleisync serve: Status unter http://%s/health und /metrics\n"), addr)
	}
	run := func(ctx context.Context) error {
		// credentials `service install` handed over land in this account's keyring first
		if err := takeCredentials(e); err != nil {
			if srv.Events != nil {
				_ = srv.Events.Error(server.EventStartFailed, err.Error())
			}
			return err
		}
		return srv.Run(ctx)
	}
	var err error
	if service.IsService() {
		// the service's events also go to the Windows event log
		if l, lerr := service.OpenEventLog(); lerr == nil {
			defer l.Close()
			srv.Events = l
		} else {
			e.logger.Warn("event log", "error", lerr.Error())
		}
		err = service.Run(run)
	} else {
		err = run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// serveFlagProblem says in German what is wrong with serve's flags, or "".
func serveFlagProblem(listen string, ttl, interval time.Duration, parallel int) string {
	switch {
	case server.CheckListen(listen) != nil:
		return server.CheckListen(listen).Error()
	case interval < time.Second || interval > 24*time.Hour:
		return text.F("serve --interval %s: der Abstand liegt zwischen 1s und 24h (Voreinstellung 2m)", interval)
	case ttl < time.Second || ttl > time.Hour:
		return text.F("serve --lease %s: die Export-Sperre dauert zwischen 1s und 1h (Voreinstellung 30s)", ttl)
	case parallel < 0:
		return text.F("serve --parallel %d: höchstens so viele Postfächer gleichzeitig, 0 oder mehr (0: alle)", parallel)
	}
	return ""
}

// newServer is serve's exporter on the environment: application
// permissions, one engine each time the lease is won.
func newServer(e env, listen string, ttl, interval time.Duration, parallel int) *server.Server {
	return &server.Server{Store: e.store, Logger: e.logger, Listen: listen, TTL: ttl,
		Engine: func() *core.Engine {
			return core.New(core.Options{Store: e.store, Repo: e.repo, Auth: e.auth, Logger: e.logger, Transfer: e.transfer,
				AppPermissions: true, ExportInterval: interval, MaxParallel: parallel, WatchCache: watchCache()})
		}}
}

// watchCache tells whether the tray and serve watch the cache for commits
// (docs/export.md, „When a cycle runs“): on unless KANZLEISYNC_WATCH_CACHE
// is "off" — the interval alone, for a cache whose share IT does not want
// looked at every 5 s, and for the idle figure's peer.
func watchCache() bool { return !strings.EqualFold(os.Getenv("KANZLEISYNC_WATCH_CACHE"), "off") }
