//go:build !windows

package service

// Outside Windows there is no DPAPI; the hand-over file is readable by its
// owner only (0600 in a 0700 directory). `service install` runs only on
// Windows; the tests use this path.
func protect(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }

func unprotect(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }

// RestrictDir keeps dir to its owner.
func RestrictDir(dir string) error { return chmodOwner(dir) }
