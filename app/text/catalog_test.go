package text_test

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"kanzleisync/app/text"
)

// catalogCalls are the functions whose string argument is a catalog id: the
// name of the call and the argument's index (text.N's plural id is its
// third argument, the German plural).
var catalogCalls = map[string]int{"text.T": 0, "text.F": 0, "text.Errorf": 0, "text.New": 0, "text.Mark": 0,
	"text.N": 2, "text.Nf": 2, "text.Noun": 2, "text.In": 1,
	// config's ValidationError.add(field, format, args...) formats with text.F
	"v.add": 1, "e.add": 1,
	// ui's a.window(name, title, …) takes the title's id
	"a.window": 1}

// notText are German-looking literals that are not shown to a person in
// the program's language: data written into Microsoft 365 (its language is
// the firm's, not the reader's), the practice software's own words, and
// the transfer log's fixed keywords.
var notTextFiles = []string{
	"app/export/items.go",      // the items' subjects and bodies in Outlook
	"app/source/generate.go",   // the demo cache's data
	"app/translog/translog.go", // the transfer log's fixed keywords
	"app/text/text.go",         // the glossary's wrong words
	// the service manager keeps its name and description once written
	"platform/service/service.go",
}

// names are German words that are names in every language.
var names = []string{"Kanzlei Müller & Partner"}

// germanLooking finds a literal a person would read as German.
var germanLooking = regexp.MustCompile(`[äöüÄÖÜß„“]|\b(der|die|das|und|nicht|ist|ein|eine|bitte|Bitte|wird|werden|kein|keine|mit|von|zu|auf|im|den|dem|sind|oder|noch|wurde|bei|nach|aus|kann|Fehler|erneut|Konto|Sachbearbeiter|Abgleich|Nachricht|Termin|Fristen|Postfach|Passwort|jetzt|Jetzt|fehlt|fehlen|gesendet|abgerufen|angemeldet|gespeichert|ohne)\b`)

type use struct {
	id, at string
	plural bool
}

func sourceFiles(t *testing.T) (root string, files []string) {
	root = filepath.Join("..", "..")
	for _, dir := range []string{"app", "ui", "cmd/kanzleisync", "platform"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() && (rel == "app/m365sim" || rel == "app/testsupport") {
				return filepath.SkipDir // the emulator speaks Microsoft's English; test helpers
			}
			if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, rel)
			}
			return nil
		})
	}
	if len(files) < 80 {
		t.Fatalf("only %d source files found", len(files))
	}
	return root, files
}

func callName(c *ast.CallExpr) string {
	if s, ok := c.Fun.(*ast.SelectorExpr); ok {
		if x, ok := s.X.(*ast.Ident); ok {
			return x.Name + "." + s.Sel.Name
		}
	}
	return ""
}

// uses lists every catalog id the program's code names, and every German
// literal it shows without the catalog.
func uses(t *testing.T) (ids []use, stray []string) {
	root, files := sourceFiles(t)
	for _, rel := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		inCatalog := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name := callName(c)
			i, ok := catalogCalls[name]
			if !ok || (name == "v.add" || name == "e.add") && !strings.HasPrefix(rel, "app/config/") || name == "a.window" && !strings.HasPrefix(rel, "ui/") {
				return true
			}
			for j, a := range c.Args {
				if l, ok := a.(*ast.BasicLit); ok && l.Kind == token.STRING {
					inCatalog[l] = true
					if j == i {
						s, _ := strconv.Unquote(l.Value)
						ids = append(ids, use{id: s, at: fset.Position(l.Pos()).String(), plural: name == "text.N" || name == "text.Nf" || name == "text.Noun"})
					}
				}
			}
			return true
		})
		if slices.Contains(notTextFiles, rel) {
			continue
		}
		// the transfer log's lines are fixed German for IT, whatever the UI's
		// language; a regular expression is not a text either
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if callName(c) == "regexp.MustCompile" {
					ast.Inspect(c, func(m ast.Node) bool {
						if l, ok := m.(*ast.BasicLit); ok {
							inCatalog[l] = true
						}
						return true
					})
				}
				if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Line" {
					if x, ok := s.X.(*ast.SelectorExpr); ok && x.Sel.Name == "Transfer" {
						ast.Inspect(c, func(m ast.Node) bool {
							if l, ok := m.(*ast.BasicLit); ok {
								inCatalog[l] = true
							}
							return true
						})
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING && !inCatalog[l] {
				s, _ := strconv.Unquote(l.Value)
				// a single word is a value (a flag's "aus", a key), not a sentence
				if germanLooking.MatchString(s) && strings.Contains(strings.TrimSpace(s), " ") && !slices.Contains(names, s) {
					stray = append(stray, fset.Position(l.Pos()).String()+": "+s)
				}
			}
			return true
		})
	}
	return ids, stray
}

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

// Every text the program shows has its English, with the same formatting
// verbs; the catalog holds nothing the program no longer uses; no German
// text is shown around the catalog. KANZLEISYNC_CATALOG_MISSING=FILE
// writes the ids without English to FILE, to be translated.
func TestCatalog(t *testing.T) {
	ids, stray := uses(t)
	if len(ids) < 300 {
		t.Fatalf("only %d catalog ids found in the code", len(ids))
	}
	used := map[string]bool{}
	missing := map[string]any{}
	for _, u := range ids {
		used[u.id] = true
		one, other, ok := text.EnglishOf(u.id)
		if !ok {
			if u.plural {
				missing[u.id] = map[string]string{"one": "", "other": ""}
			} else {
				missing[u.id] = ""
			}
			t.Errorf("%s: no English for %q", u.at, u.id)
			continue
		}
		if u.plural && (one == "" || other == "") {
			t.Errorf("%s: %q needs the English one and other forms", u.at, u.id)
		}
		if !u.plural {
			if got, want := verb.FindAllString(other, -1), verb.FindAllString(u.id, -1); !slices.Equal(got, want) {
				t.Errorf("%s: English %q has verbs %v, German %q has %v", u.at, other, got, u.id, want)
			}
			// a German word in the English is a name or a value the German has too
			for _, m := range germanInEnglish.FindAllString(other, -1) {
				if !strings.Contains(u.id, m) {
					t.Errorf("%s: English %q looks German (%q)", u.at, other, m)
				}
			}
		}
	}
	for _, id := range text.IDs() {
		if !used[id] {
			t.Errorf("catalog/en.json: %q is used nowhere", id)
		}
	}
	for _, s := range stray {
		t.Errorf("German text outside the catalog: %s", s)
	}
	if f := os.Getenv("KANZLEISYNC_CATALOG_MISSING"); f != "" && len(missing) > 0 {
		b, _ := json.MarshalIndent(missing, "", "  ")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// germanInEnglish finds German in an English text: its letters and
// quotation mark, and words English does not have.
var germanInEnglish = regexp.MustCompile(`[äöüÄÖÜß„]|\b(der|die|das|und|nicht|ist|ein|eine|bitte|wird|kein|keine|mit|von|zu|auf|im|den|dem|sind|oder|noch|wurde|bei|nach|aus|Fehler|Konto|Sachbearbeiter|Abgleich|Nachricht|Termin|Fristen|Postfach|Passwort|jetzt)\b`)

// Switching the language changes what T, F, N and an error made before the
// switch read.
func TestSwitch(t *testing.T) {
	defer text.SetLanguage(text.Language())
	err := text.Errorf("Vorgaben der IT (%s): %w", "policy.json", os.ErrNotExist)
	text.SetLanguage("de")
	if got := text.T("Anmelden"); got != "Anmelden" {
		t.Errorf("German T = %q", got)
	}
	de := err.Error()
	text.SetLanguage("en-GB")
	if got := text.T("Anmelden"); got != "Sign in" {
		t.Errorf("English T = %q", got)
	}
	if en := err.Error(); en != "IT's policy (policy.json): file does not exist" || de != "Vorgaben der IT (policy.json): file does not exist" {
		t.Errorf("the error reads %q in English, %q in German", en, de)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%q does not wrap os.ErrNotExist", err.Error())
	}
	for n, want := range map[int]string{1: "1 message", 3: "3 messages"} {
		if got := text.N(n, "Nachricht", "Nachrichten"); got != want {
			t.Errorf("English N(%d) = %q, want %q", n, got, want)
		}
	}
	text.SetLanguage("de")
	for n, want := range map[int]string{0: "0 Nachrichten", 1: "1 Nachricht", 2: "2 Nachrichten"} {
		if got := text.N(n, "Nachricht", "Nachrichten"); got != want {
			t.Errorf("N(%d) = %q", n, got)
		}
	}
}
