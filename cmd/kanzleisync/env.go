package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"kanzleisync/app/auth"
	"kanzleisync/app/config"
	"kanzleisync/app/store"
	"kanzleisync/app/translog"
	"kanzleisync/platform/keyring"
	"kanzleisync/platform/paths"
)

// env is what every mode works on.
type env struct {
	dataDir, logPath string
	logger           *slog.Logger
	transfer         *translog.Log
	store            *store.Store
	repo             *config.Repo
	auth             *auth.Manager
	keys             *keyring.Store // the keyring auth keeps its secrets in
}

// openEnv opens the data directory, log, state database, configuration,
// keyring and transfer log; release closes them again.
func openEnv(dataDir string, demoMode bool) (e env, release func(), err error) {
	var closers []func()
	release = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	if dataDir == "" {
		var err error
		if dataDir, err = paths.DataDir(); err != nil {
			return e, release, err
		}
		if demoMode { // the demo never touches the real configuration
			dataDir = filepath.Join(dataDir, "demo")
		}
	}
	if _, err := paths.Ensure(dataDir); err != nil {
		return e, release, err
	}
	logPath := filepath.Join(dataDir, "kanzleisync.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return e, release, err
	}
	_ = logFile.Chmod(0o600) // a log made before with another umask is private too
	closers = append(closers, func() { logFile.Close() })
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	slog.SetDefault(logger) // parts without their own logger write to the file too
	st, err := store.Open(filepath.Join(dataDir, "kanzleisync.db"))
	if err != nil {
		return e, release, err
	}
	closers = append(closers, func() { st.Close() })
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
		return e, release, err
	}
	keys := keyring.New(service)
	mgr := auth.NewManager(repo, keys, auth.Options{Logger: logger})
	transfer, err := translog.Open(filepath.Join(dataDir, "kanzleisync-transfer.log"), 10<<20, 5)
	if err != nil {
		return e, release, err
	}
	closers = append(closers, func() { transfer.Close() })
	st.OnJournal(func(j store.JournalEntry) {
		transfer.Transfer(j.Worker, j.ItemKey, j.Action, j.Result, j.RequestID, j.Error)
	})
	e = env{dataDir: dataDir, logPath: logPath, logger: logger, store: st, repo: repo, auth: mgr, keys: keys, transfer: transfer}
	return e, release, nil
}
