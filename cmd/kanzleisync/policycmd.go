package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"kanzleisync/app/config"
	"kanzleisync/app/text"
	"kanzleisync/platform/paths"
)

// runPolicy is `kanzleisync policy set`: the entity of the IT policy file,
// as the MSI's TENANT/CLIENTID/CACHEPATH/ENTITY properties give it (the
// installer runs it as SYSTEM). It opens no data directory: the installing
// account has none and needs none.
func runPolicy(args []string) int {
	if len(args) == 0 || args[0] != "set" {
		fmt.Fprintln(os.Stderr, text.T("Aufruf: kanzleisync policy set --tenant VERZEICHNIS-ID --client-id ANWENDUNGS-ID [--cache-path PFAD] [--entity NAME]"))
		return 2
	}
	fs := flag.NewFlagSet("policy set", flag.ContinueOnError)
	var e config.Entity
	fs.StringVar(&e.Name, "entity", "", text.F("Name der Entität (Voreinstellung: der Name in der Datei, sonst „%s“)", config.DefaultPolicyEntity))
	fs.StringVar(&e.Tenant, "tenant", "", text.T("Verzeichnis-ID der App-Registrierung"))
	fs.StringVar(&e.ClientID, "client-id", "", text.T("Anwendungs-ID (Client-ID) der App-Registrierung"))
	fs.StringVar(&e.CachePath, "cache-path", "", text.T("Pfad des Caches der Kanzleisoftware auf den Arbeitsplätzen"))
	file := fs.String("file", paths.PolicyFile(), text.T("die Datei der Vorgaben der IT"))
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if err := paths.EnsurePolicyDir(filepath.Dir(*file)); err != nil {
		fmt.Fprintln(os.Stderr, text.F("Der Ordner der Vorgaben der IT (%s) konnte nicht angelegt werden: %v", filepath.Dir(*file), err))
		return 1
	}
	p, err := config.WritePolicyEntity(*file, e, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, text.F("Vorgaben der IT nicht geschrieben: %v", err))
		return 1
	}
	fmt.Println(text.F("Vorgaben der IT geschrieben: %s (Entität „%s“, Verzeichnis-ID %s, Anwendungs-ID %s, Cache %s).",
		p.Path, p.Entity.Name, p.Entity.Tenant, p.Entity.ClientID, orUnset(p.Entity.CachePath)))
	return 0
}

func orUnset(s string) string {
	if s == "" {
		return text.T("nicht vorgegeben")
	}
	return s
}
