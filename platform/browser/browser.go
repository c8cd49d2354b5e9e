// Package browser opens the sign-in page in the user's default browser.
package browser

import (
	"errors"
	"fmt"
	"io"
	"net/url"

	pkgbrowser "github.com/pkg/browser"
)

// ErrNotOpened means that no browser could be started; the caller then
// offers the address for copying.
var ErrNotOpened = errors.New("browser: no browser could be opened")

func init() {
	// the browser's own chatter must not end up in kanzleisync's output
	pkgbrowser.Stdout = io.Discard
	pkgbrowser.Stderr = io.Discard
}

// Open opens an http or https address in the default browser.
func Open(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("browser: refuse to open %q: only http and https addresses", rawURL)
	}
	if err := pkgbrowser.OpenURL(u.String()); err != nil {
		return fmt.Errorf("%w: %v", ErrNotOpened, err)
	}
	return nil
}
