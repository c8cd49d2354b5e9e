// Command kanzleisync keeps Microsoft 365 in step with the practice
// software. This file only wires the parts together.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"

	"kanzleisync/app/auth"
	"kanzleisync/app/cli"
	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/platform/browser"
	"kanzleisync/platform/keyring"
	"kanzleisync/platform/paths"
)

func main() {
	dataDir := flag.String("data-dir", "", "Datenverzeichnis (Voreinstellung: Benutzerkonfiguration/kanzleisync)")
	flag.Parse()
	os.Exit(run(*dataDir, flag.Args()))
}

func run(dataDir string, args []string) int {
	if dataDir == "" {
		var err error
		if dataDir, err = paths.DataDir(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if _, err := paths.Ensure(dataDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logFile, err := os.OpenFile(filepath.Join(dataDir, "kanzleisync.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	st, err := store.Open(filepath.Join(dataDir, "kanzleisync.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	service := os.Getenv("KANZLEISYNC_KEYRING_SERVICE")
	if service == "" {
		service = "kanzleisync"
	}
	repo := config.NewRepo(st.DB())
	mgr := auth.NewManager(repo, keyring.New(service), auth.Options{Logger: logger})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return cli.Run(ctx, args, cli.Deps{Store: st, Repo: repo, Auth: mgr, OpenBrowser: browser.Open,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}
