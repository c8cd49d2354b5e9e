package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"kanzleisync/app/core"
	"kanzleisync/app/text"
)

func diagnoseCmd(ctx context.Context, args []string, d Deps) error {
	fs := newFlags("diagnose", d)
	asJSON := fs.Bool("json", false, text.T("das Ergebnis als JSON ausgeben"))
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err)
	}
	reports, err := core.DiagnoseAll(ctx, core.NewDiagnoser(d.Repo, d.Auth, d.MailTLS, d.Now))
	if err != nil {
		return err
	}
	ok := true
	for _, r := range reports {
		ok = ok && r.OK()
	}
	if *asJSON {
		enc := json.NewEncoder(d.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": ok, "reports": reports}); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			fmt.Fprintf(d.Stdout, "%s\n", r.Subject)
			tw := tabwriter.NewWriter(d.Stdout, 2, 4, 2, ' ', 0)
			for _, c := range r.Checks {
				detail := c.Detail
				if c.Tech != "" {
					detail += " [" + c.Tech + "]"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Status.Label(), c.Name, detail)
				if c.Fix != "" {
					fmt.Fprintf(tw, "  \t\t→ %s\n", c.Fix)
				}
			}
			tw.Flush()
			if !r.OK() && r.ConsentURL != "" {
				fmt.Fprintf(d.Stdout, "  Administratorzustimmung: %s\n", r.ConsentURL)
			}
			fmt.Fprintln(d.Stdout)
		}
	}
	if !ok {
		return silent{errors.New("diagnose: not every module is green")}
	}
	return nil
}
