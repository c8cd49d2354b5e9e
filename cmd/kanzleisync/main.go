// Command kanzleisync keeps Microsoft 365 in step with the practice
// software. Without a command it starts the tray application; `demo` starts
// it against the built-in Microsoft 365 emulator; every other command is the
// command line for IT (app/cli). This package only wires the parts together.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"kanzleisync/app/cli"
	"kanzleisync/platform/browser"
)

func main() {
	dataDir := flag.String("data-dir", "", "Datenverzeichnis (Voreinstellung: Benutzerkonfiguration/kanzleisync)")
	flag.Parse()
	os.Exit(run(*dataDir, flag.Args()))
}

func run(dataDir string, args []string) int {
	demoMode := len(args) > 0 && args[0] == "demo"
	e, closeEnv, err := openEnv(dataDir, demoMode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeEnv()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
	return cli.Run(ctx, args, cli.Deps{Store: e.store, Repo: e.repo, Auth: e.auth, OpenBrowser: browser.Open,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, AdminPassword: func() string { return os.Getenv("KANZLEISYNC_ADMIN_PASSWORD") }})
}
