// Command kanzleisync keeps Microsoft 365 in step with the practice
// software. Without a command it starts the tray application; `demo` starts
// it against the built-in Microsoft 365 emulator; every other command is the
// command line for IT (app/cli). This package only wires the parts together.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"kanzleisync/app/auth"
	"kanzleisync/app/cli"
	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/app/translog"
	"kanzleisync/platform/browser"
	"kanzleisync/platform/keyring"
	"kanzleisync/platform/paths"
)

func main() {
	dataDir := flag.String("data-dir", "", "Datenverzeichnis (Voreinstellung: Benutzerkonfiguration/kanzleisync)")
	flag.Parse()
	os.Exit(run(*dataDir, flag.Args()))
}

// env is what every mode works on.
type env struct {
	dataDir, logPath string
	logger           *slog.Logger
	transfer         *translog.Log
	store            *store.Store
	repo             *config.Repo
	auth             *auth.Manager
}

func run(dataDir string, args []string) int {
	demoMode := len(args) > 0 && args[0] == "demo"
	if dataDir == "" {
		var err error
		if dataDir, err = paths.DataDir(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if demoMode { // the demo never touches the real configuration
			dataDir = filepath.Join(dataDir, "demo")
		}
	}
	if _, err := paths.Ensure(dataDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logPath := filepath.Join(dataDir, "kanzleisync.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	slog.SetDefault(logger) // parts without their own logger write to the file too
	st, err := store.Open(filepath.Join(dataDir, "kanzleisync.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	service := os.Getenv("KANZLEISYNC_KEYRING_SERVICE")
	if service == "" {
		service = "kanzleisync"
		if demoMode {
			service = "kanzleisync-demo"
		}
	}
	repo := config.NewRepo(st.DB())
	policy, err := config.LoadPolicy(paths.PolicyFile())
	if err == nil && !demoMode {
		err = repo.SetPolicy(context.Background(), policy)
	}
	if err != nil { // a broken deployment is for IT to fix; nothing runs on half of it
		logger.Error("policy", "error", err.Error())
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr := auth.NewManager(repo, keyring.New(service), auth.Options{Logger: logger})
	transfer, err := translog.Open(filepath.Join(dataDir, "kanzleisync-transfer.log"), 10<<20, 5)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer transfer.Close()
	st.OnJournal(func(j store.JournalEntry) {
		transfer.Transfer(j.Worker, j.ItemKey, j.Action, j.Result, j.RequestID, j.Error)
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{dataDir: dataDir, logPath: logPath, logger: logger, store: st, repo: repo, auth: mgr, transfer: transfer}
	switch {
	case len(args) == 0:
		return runTray(ctx, e, nil)
	case demoMode:
		return runDemo(ctx, e, args[1:])
	case args[0] == "serve":
		return runServe(ctx, e, args[1:])
	case args[0] == "service":
		return runService(e, args[1:])
	}
	return cli.Run(ctx, args, cli.Deps{Store: st, Repo: repo, Auth: mgr, OpenBrowser: browser.Open,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, AdminPassword: func() string { return os.Getenv("KANZLEISYNC_ADMIN_PASSWORD") }})
}
