package text_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kanzleisync/app/text"
)

// No text of the program (app, ui, cmd) or of the docs uses a word the
// glossary replaced.
func TestGlossary(t *testing.T) {
	root := filepath.Join("..", "..")
	var files []string
	for _, dir := range []string{"app", "ui", "cmd", "docs"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, ".md")) {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 50 {
		t.Fatalf("only %d files found", len(files))
	}
	self, _ := filepath.Abs("text.go")
	for _, p := range append(files, filepath.Join(root, "README.md")) {
		if abs, _ := filepath.Abs(p); abs == self {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for wrong, right := range text.Glossary {
				if strings.Contains(line, wrong) {
					t.Errorf("%s:%d uses „%s“; the glossary says „%s“", p, i+1, wrong, right)
				}
			}
		}
	}
}
