package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/core"
	"kanzleisync/app/export"
	"kanzleisync/app/graph"
	"kanzleisync/app/text"
)

// printPreview prints what the next cycle of every entity would do.
func printPreview(ctx context.Context, d Deps, s *config.Settings) error {
	out, err := core.PreviewWith(ctx, d.Repo, d.Store, d.Auth, s)
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprint(d.Stdout, text.F("Vorschau %s: %s\n", k, out[k]))
	}
	if err != nil {
		slog.Default().Warn("preview failed", "error", err.Error())
		fmt.Fprint(d.Stderr, text.F("Vorschau: %s\n", core.Explain(err, config.Entity{}, "")))
	}
	return nil
}

// syncCmd runs one export cycle (or its preview) for every entity.
func syncCmd(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("sync", d)
	once := fs.Bool("once", false, text.T("eine Synchronisation ausführen und beenden"))
	preview := fs.Bool("preview", false, text.T("nur anzeigen, was die Synchronisation täte"))
	full := fs.Bool("full", false, text.T("auch prüfen, was in Microsoft 365 gelöscht wurde"))
	only := fs.String("entity", "", text.T("nur diese Entität"))
	confirm := fs.Bool("confirm-deletions", false, text.T("zurückgehaltene Löschungen ausführen (Administratorpasswort in KANZLEISYNC_ADMIN_PASSWORD)"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	if !*once {
		return usageError(text.T("sync: bitte --once angeben (die laufende Synchronisation gehört zur Tray-Anwendung)"))
	}
	if *confirm && *preview {
		return usageError(text.T("sync: --confirm-deletions und --preview schließen sich aus"))
	}
	ents, err := d.Repo.Entities(ctx)
	if err != nil {
		return err
	}
	if *confirm {
		if err := confirmDeletions(ctx, d, *only); err != nil {
			return err
		}
	}
	installation, err := d.Store.InstallationID(ctx)
	if err != nil {
		return err
	}
	var failed error
	for _, e := range ents {
		if *only != "" && e.Name != *only {
			continue
		}
		r := &export.Runner{Entity: e.Name, Repo: d.Repo, Store: d.Store, Installation: installation,
			Tokens: func(upn string) graph.TokenSource { return d.Auth.Graph(upn) }}
		if *full {
			r.FullEvery = time.Nanosecond
		}
		out, err := r.Cycle(ctx, *preview)
		verb := text.T("Synchronisation")
		if *preview || errors.Is(err, export.ErrInactive) {
			verb = text.T("Vorschau")
		}
		upns := make([]string, 0, len(out))
		for upn := range out {
			upns = append(upns, upn)
		}
		sort.Strings(upns)
		for _, upn := range upns {
			fmt.Fprintf(d.Stdout, "%s %s (%s): %s\n", verb, upn, e.Name, out[upn])
		}
		if !*preview {
			if err := listHeld(ctx, d, upns); err != nil {
				return err
			}
		}
		if errors.Is(err, export.ErrInactive) {
			fmt.Fprintln(d.Stderr, export.ErrInactive.Error())
			failed = silent{err}
			continue
		}
		if err != nil {
			slog.Default().Warn("sync failed", "entity", e.Name, "error", err.Error())
			fmt.Fprintf(d.Stderr, text.T("Entität „%s“: %s\n"), e.Name, core.Explain(err, e, ""))
			failed = silent{err}
		}
	}
	return failed
}

// confirmDeletions releases the held deletions of an entity's workers (of
// every worker without one) after checking the administrator password.
func confirmDeletions(ctx context.Context, d Deps, entity string) error {
	if _, err := unlock(ctx, d); err != nil {
		return err
	}
	var upns []string
	if entity != "" {
		workers, err := d.Repo.Workers(ctx)
		if err != nil {
			return err
		}
		for _, w := range workers {
			if w.Entity == entity {
				upns = append(upns, w.UPN)
			}
		}
		if len(upns) == 0 {
			return nil
		}
	}
	n, err := d.Store.ReleaseHeldDeletions(ctx, "Kommandozeile", d.Now(), upns...)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(d.Stdout, text.T("Es waren keine Löschungen zurückgehalten."))
	} else {
		fmt.Fprint(d.Stdout, text.F("%s freigegeben; die Synchronisation führt sie jetzt aus, soweit sie noch anstehen.\n", text.N(n, "zurückgehaltene Löschung", "zurückgehaltene Löschungen")))
	}
	return nil
}

// listHeld prints what the cycle held back, up to 20 items per worker.
func listHeld(ctx context.Context, d Deps, upns []string) error {
	for _, upn := range upns {
		held, err := d.Store.HeldDeletions(ctx, upn)
		if err != nil {
			return err
		}
		if len(held) == 0 {
			continue
		}
		export.SortHeld(held)
		fmt.Fprintf(d.Stdout, text.T("  Zurückgehaltene Löschungen für %s (%d):\n"), upn, len(held))
		for i, h := range held {
			if i == 20 {
				fmt.Fprintf(d.Stdout, text.T("    … und %d weitere\n"), len(held)-20)
				break
			}
			fmt.Fprintf(d.Stdout, "    – %s\n", export.HeldLabel(h))
		}
	}
	return nil
}
