//go:build !windows

package paths

import (
	"fmt"
	"os"

	"kanzleisync/app/text"
)

// makePrivate tightens dir to 0700 when others may read or enter it.
func makePrivate(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return text.Errorf("Das Datenverzeichnis %s ist für andere Benutzer lesbar und lässt sich nicht auf „nur für mich“ stellen (%v). Bitte ein eigenes Verzeichnis angeben oder die Rechte von der IT-Betreuung setzen lassen (chmod 700).", dir, err)
		}
	}
	return nil
}
