// Command kanzleisync keeps Microsoft 365 in step with the practice
// software. Without a command it starts the tray application; `demo` starts
// it against the built-in Microsoft 365 emulator; every other command is the
// command line for IT (app/cli). This package only wires the parts together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"kanzleisync/app/cli"
	"kanzleisync/app/text"
	"kanzleisync/platform/browser"
)

func main() {
	text.SetLanguage(text.FromEnvironment())
	dataDir := flag.String("data-dir", "", "Datenverzeichnis (Voreinstellung: Benutzerkonfiguration/kanzleisync)")
	flag.CommandLine.Init("kanzleisync", flag.ContinueOnError)
	flag.CommandLine.SetOutput(io.Discard)
	if err := flag.CommandLine.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(cli.Usage())
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "kanzleisync: %s\n%s\n", cli.FlagError(flag.CommandLine, err), text.T("Alle Befehle: kanzleisync help"))
		os.Exit(2)
	}
	os.Exit(run(*dataDir, flag.Args()))
}

func run(dataDir string, args []string) int {
	if len(args) > 0 && args[0] == "policy" {
		return runPolicy(args[1:])
	}
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

// parseFlags reads a command's flags; --help prints them in German on
// stdout (exit 0), a wrong flag names itself on stderr (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) (exit int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if err == nil {
		return 0, true
	}
	out, code := os.Stderr, 2
	if errors.Is(err, flag.ErrHelp) {
		out, code = os.Stdout, 0
	} else {
		fmt.Fprintf(out, "kanzleisync %s: %s\n", fs.Name(), cli.FlagError(fs, err))
	}
	fmt.Fprintf(out, "kanzleisync %s – Angaben:\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = " (Voreinstellung " + f.DefValue + ")"
		}
		fmt.Fprintf(out, "  --%-12s %s%s\n", f.Name, f.Usage, def)
	})
	return code, false
}
