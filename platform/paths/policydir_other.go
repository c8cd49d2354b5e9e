//go:build !windows

package paths

import "os"

// EnsurePolicyDir creates the directory of the IT policy file: written by
// root, readable by everyone (the file holds no secret).
func EnsurePolicyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return nil
}
