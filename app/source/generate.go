package source

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

// GenOptions size the demo data.
type GenOptions struct {
	Seed          uint64
	Workers       []Worker // default: the emulator's demo users
	Appointments  int      // per worker
	Deadlines     int      // per worker
	Resubmissions int      // per worker
	Addresses     int      // in all
	Subscriptions int      // Abos per worker (at most Addresses)
	// Confidential marks each worker's last Termine vertraulich (at most
	// Appointments); the others and the random data stay as without it.
	Confidential int
	// CourtDateForTwo: the first worker's first Termin is also the second
	// worker's (termin_teilnehmer), as a court date for lawyer and assistant.
	CourtDateForTwo bool
	// Series adds Serientermine per worker after all other Termine, in
	// turn: a weekly Kanzleibesprechung (one occurrence cancelled, one
	// moved), a monthly Jour fixe on the 2nd Tuesday, a daily
	// Posteingang across the October DST change, a yearly Jahresgespräch
	// and a fortnightly Monday/Thursday Sprechstunde.
	Series int
	// From is the first day of the generated period (default 1 Jan 2026);
	// dates spread over the following 12 months and include both DST changes.
	From time.Time
}

// DemoWorkers are the case workers of the emulator's demo tenant.
var DemoWorkers = []Worker{
	{ID: "AM", Name: "Anna Müller", UPN: "anna.mueller@kanzlei.example"},
	{ID: "JS", Name: "Jens Schäfer", UPN: "jens.schaefer@kanzlei.example"},
	{ID: "ÖY", Name: "Özlem Yılmaz", UPN: "oezlem.yilmaz@kanzlei.example"},
}

var (
	givenNames = []string{"Jürgen", "Käthe", "Björn", "Sören", "Günther", "Ümit", "Maximilian", "Lea", "Zoë", "Jörg", "Bärbel", "Heinz-Dieter", "Marie-Luise", "Çağla", "Łukasz"}
	surnames   = []string{"Müller", "Schröder", "Weiß", "Groß", "Bäcker", "Köhler", "Fuß", "Öztürk", "Schäfer", "Lübke", "Kraußer", "von der Höhe", "Nguyễn", "Dvořák", "Meißner"}
	companies  = []string{"Bäckerei Höfle GmbH", "Müller & Söhne KG", "Grünflächen Ämter AG", "Straßenbau Süd GmbH & Co. KG", "Öko-Energie eG", ""}
	streets    = []string{"Hauptstraße", "Königsallee", "Am Mühlbach", "Schloßstraße", "Lindenweg", "Gärtnerplatz"}
	cities     = []struct{ plz, city string }{{"80331", "München"}, {"50667", "Köln"}, {"20095", "Hamburg"}, {"01067", "Dresden"}, {"70173", "Stuttgart"}, {"79098", "Freiburg im Breisgau"}}
	subjects   = []string{"Mandantengespräch", "Mündliche Verhandlung", "Güteverhandlung", "Besprechung mit Gegenseite", "Ortstermin", "Beweisaufnahme", "Telefonkonferenz"}
	courts     = []string{"LG München I, Saal 201", "AG Köln, Raum 3.14", "OLG Düsseldorf", "Kanzlei, Besprechungsraum Süd", "ArbG Stuttgart", "Videokonferenz"}
	fristen    = []string{"Berufungsbegründung", "Klageerwiderung", "Stellungnahme zum Gutachten", "Einspruch gegen Versäumnisurteil", "Revisionsbegründung", "Replik"}
	gruende    = []string{"Sachstandsanfrage", "Zahlungseingang prüfen", "Akte zur Wiedervorlage", "Frist überwachen", "Rückruf Mandant"}
	categories = []string{"Gericht", "Mandant", "Intern", ""}
)

// dstDays are the days the clocks change in Germany in 2026.
var dstDays = []string{"2026-03-29", "2026-10-25"}

// Generate writes a new cache with demo data to path (replacing a file there).
func Generate(ctx context.Context, path string, o GenOptions) error {
	if len(o.Workers) == 0 {
		o.Workers = DemoWorkers
	}
	if o.From.IsZero() {
		o.From = time.Date(2026, 1, 1, 0, 0, 0, 0, Berlin)
	}
	if o.Subscriptions > o.Addresses {
		o.Subscriptions = o.Addresses
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("generate cache: %w", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("generate cache: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("generate cache schema: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	g := &generator{rng: rand.New(rand.NewPCG(o.Seed, 0x6b616e7a)), o: o, tx: tx}
	for _, step := range []func(context.Context) error{g.schemaInfo, g.workers, g.appointments, g.participants, g.series, g.deadlines, g.resubmissions, g.addresses} {
		if err := step(ctx); err != nil {
			return fmt.Errorf("generate cache: %w", err)
		}
	}
	return tx.Commit()
}

type generator struct {
	rng *rand.Rand
	o   GenOptions
	tx  *sql.Tx
}

func (g *generator) pick(s []string) string { return s[g.rng.IntN(len(s))] }

// day returns a day of the generated year; every 20th is a DST day.
func (g *generator) day() time.Time {
	if g.rng.IntN(20) == 0 {
		d, _ := time.ParseInLocation(dateLayout, g.pick(dstDays), Berlin)
		return d
	}
	return g.o.From.AddDate(0, 0, g.rng.IntN(365))
}

func (g *generator) fileNo() string {
	return fmt.Sprintf("%d/%02d", 1+g.rng.IntN(999), 24+g.rng.IntN(3))
}

func (g *generator) stamp() string {
	return g.o.From.Add(-time.Duration(g.rng.IntN(90*24)) * time.Hour).UTC().Format(time.RFC3339)
}

func (g *generator) schemaInfo(ctx context.Context) error {
	_, err := g.tx.ExecContext(ctx, `INSERT INTO schema_info (version) VALUES (?)`, SchemaVersion)
	return err
}

func (g *generator) workers(ctx context.Context) error {
	for _, w := range g.o.Workers {
		if _, err := g.tx.ExecContext(ctx, `INSERT INTO sachbearbeiter (id, name, upn) VALUES (?, ?, ?)`, w.ID, w.Name, w.UPN); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) appointments(ctx context.Context) error {
	st, err := g.tx.PrepareContext(ctx, `INSERT INTO termin (betreff, ort, beginn, ende, ganztaegig, beschreibung, aktenzeichen, mandant,
		sachbearbeiter_id, kategorie, erinnerung_min, geaendert_am, vertraulich) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, w := range g.o.Workers {
		for i := range g.o.Appointments {
			confidential := i >= g.o.Appointments-g.o.Confidential
			day := g.day()
			allDay := g.rng.IntN(6) == 0
			var start, end time.Time
			if allDay {
				start = day
				end = day.AddDate(0, 0, 1+g.rng.IntN(2))
			} else {
				// also 02:30 on the DST days, which happens twice in October and never in March
				start = time.Date(day.Year(), day.Month(), day.Day(), 2+g.rng.IntN(17), []int{0, 15, 30, 45}[g.rng.IntN(4)], 0, 0, Berlin)
				end = start.Add(time.Duration(30+30*g.rng.IntN(6)) * time.Minute)
			}
			client := g.pick(surnames) + " ./. " + g.pick(surnames)
			var reminder any
			if g.rng.IntN(3) > 0 {
				reminder = []int{15, 30, 60, 1440}[g.rng.IntN(4)]
			}
			if _, err := st.ExecContext(ctx, g.pick(subjects)+" "+client, g.pick(courts), start.Format(localLayout), end.Format(localLayout), allDay,
				"Bitte Handakte und Vollmacht mitbringen.\nAnsprechpartner: "+g.pick(givenNames)+" "+g.pick(surnames),
				g.fileNo(), client, w.ID, g.pick(categories), reminder, g.stamp(), confidential); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *generator) participants(ctx context.Context) error {
	if !g.o.CourtDateForTwo || len(g.o.Workers) < 2 || g.o.Appointments == 0 {
		return nil
	}
	_, err := g.tx.ExecContext(ctx, `INSERT INTO termin_teilnehmer (termin_id, sachbearbeiter_id)
		SELECT MIN(id), ? FROM termin WHERE sachbearbeiter_id = ?`, g.o.Workers[1].ID, g.o.Workers[0].ID)
	return err
}

// seriesShapes are the generated series: subject, rule, first start
// (days after From, adjusted to the rule's weekday), hour, minutes long.
var seriesShapes = []struct {
	subject, rule string
	weekday       time.Weekday // -1: any
	hour, minutes int
}{
	{"Kanzleibesprechung", "FREQ=WEEKLY;BYDAY=MO;UNTIL=%s", time.Monday, 9, 60},
	{"Jour fixe Insolvenzrecht", "FREQ=MONTHLY;BYDAY=2TU;COUNT=12", time.Tuesday, 14, 90},
	{"Posteingang sichten", "FREQ=DAILY;COUNT=30", -1, 8, 15},
	{"Jahresgespräch Mandant", "FREQ=YEARLY;BYMONTH=%d;BYMONTHDAY=%d", -1, 11, 120},
	{"Sprechstunde Arbeitsrecht", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", time.Monday, 16, 60},
}

func (g *generator) series(ctx context.Context) error {
	if g.o.Series == 0 {
		return nil
	}
	ins := `INSERT INTO termin (betreff, ort, beginn, ende, ganztaegig, beschreibung, aktenzeichen, mandant, sachbearbeiter_id, kategorie,
		erinnerung_min, geaendert_am, serie_regel, serie_ausfall, serie_id, serie_original) VALUES (?, ?, ?, ?, 0, ?, '', '', ?, 'Intern', 15, ?, ?, ?, ?, ?)`
	for _, w := range g.o.Workers {
		for i := range g.o.Series {
			shape := seriesShapes[i%len(seriesShapes)]
			first := g.o.From
			switch {
			case i%len(seriesShapes) == 1: // the 2nd Tuesday of From's month
				first = time.Date(first.Year(), first.Month(), 8, 0, 0, 0, 0, Berlin)
			case i%len(seriesShapes) == 2: // across the October DST change
				first = time.Date(first.Year(), 10, 10, 0, 0, 0, 0, Berlin)
			}
			for shape.weekday >= 0 && first.Weekday() != shape.weekday {
				first = first.AddDate(0, 0, 1)
			}
			start := time.Date(first.Year(), first.Month(), first.Day(), shape.hour, 0, 0, 0, Berlin)
			end := start.Add(time.Duration(shape.minutes) * time.Minute)
			rule := shape.rule
			switch i % len(seriesShapes) {
			case 0:
				rule = fmt.Sprintf(rule, start.AddDate(1, 0, -1).Format("20060102"))
			case 3:
				rule = fmt.Sprintf(rule, int(start.Month()), start.Day())
			}
			var cancelled any
			if i%len(seriesShapes) == 0 {
				cancelled = start.AddDate(0, 0, 7*13).Format(dateLayout)
			}
			res, err := g.tx.ExecContext(ctx, ins, shape.subject, "Kanzlei, Besprechungsraum Süd", start.Format(localLayout), end.Format(localLayout),
				"Tagesordnung im Umlauf", w.ID, g.stamp(), rule, cancelled, nil, nil)
			if err != nil {
				return err
			}
			if i%len(seriesShapes) != 0 {
				continue
			}
			id, _ := res.LastInsertId()
			orig := start.AddDate(0, 0, 7*12) // the 13th: two hours later
			if _, err := g.tx.ExecContext(ctx, ins, shape.subject+" (verschoben)", "Kanzlei, Besprechungsraum Nord", orig.Add(2*time.Hour).Format(localLayout),
				orig.Add(3*time.Hour).Format(localLayout), "Tagesordnung im Umlauf", w.ID, g.stamp(), nil, nil, id, orig.Format(localLayout)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *generator) deadlines(ctx context.Context) error {
	st, err := g.tx.PrepareContext(ctx, `INSERT INTO frist (aktenzeichen, bezeichnung, fristdatum, vorfrist, erledigt, sachbearbeiter_id, geaendert_am)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, w := range g.o.Workers {
		for range g.o.Deadlines {
			due := g.day()
			var early any
			if g.rng.IntN(4) > 0 {
				early = due.AddDate(0, 0, -7).Format(dateLayout)
			}
			if _, err := st.ExecContext(ctx, g.fileNo(), g.pick(fristen), due.Format(dateLayout), early, g.rng.IntN(5) == 0, w.ID, g.stamp()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *generator) resubmissions(ctx context.Context) error {
	st, err := g.tx.PrepareContext(ctx, `INSERT INTO wiedervorlage (aktenzeichen, grund, datum, erledigt, sachbearbeiter_id, geaendert_am) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, w := range g.o.Workers {
		for range g.o.Resubmissions {
			if _, err := st.ExecContext(ctx, g.fileNo(), g.pick(gruende), g.day().Format(dateLayout), g.rng.IntN(5) == 0, w.ID, g.stamp()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *generator) addresses(ctx context.Context) error {
	st, err := g.tx.PrepareContext(ctx, `INSERT INTO adresse (anrede, titel, vorname, nachname, firma, email1, email2, email3,
		telefon_geschaeftlich, telefon_privat, mobil, strasse, plz, ort, land, notiz, geaendert_am)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range g.o.Addresses {
		given, sur := g.pick(givenNames), g.pick(surnames)
		city := cities[g.rng.IntN(len(cities))]
		title := ""
		if g.rng.IntN(5) == 0 {
			title = "Dr."
		}
		mail := fmt.Sprintf("a%d@mandant.example", i+1)
		var mail2 any
		if g.rng.IntN(3) == 0 {
			mail2 = fmt.Sprintf("buero%d@mandant.example", i+1)
		}
		if _, err := st.ExecContext(ctx, []string{"Herr", "Frau", ""}[g.rng.IntN(3)], title, given, sur, g.pick(companies), mail, mail2, nil,
			fmt.Sprintf("+49 89 %07d", g.rng.IntN(9999999)), nil, fmt.Sprintf("+49 17%d %07d", g.rng.IntN(10), g.rng.IntN(9999999)),
			fmt.Sprintf("%s %d", g.pick(streets), 1+g.rng.IntN(120)), city.plz, city.city, "Deutschland", "Mandant seit "+fmt.Sprint(2000+g.rng.IntN(26)), g.stamp()); err != nil {
			return err
		}
	}
	ab, err := g.tx.PrepareContext(ctx, `INSERT INTO abo (adresse_id, sachbearbeiter_id, seit) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ab.Close()
	for _, w := range g.o.Workers {
		for _, idx := range g.rng.Perm(g.o.Addresses)[:g.o.Subscriptions] {
			if _, err := ab.ExecContext(ctx, idx+1, w.ID, g.stamp()); err != nil {
				return err
			}
		}
	}
	return nil
}
