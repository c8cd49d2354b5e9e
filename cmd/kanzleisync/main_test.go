package main

import (
	"os"
	"testing"
)

// The tests read the program's German output; a developer's LANG=en_US
// would make the binaries they start speak English (app/text).
func TestMain(m *testing.M) {
	os.Setenv("KANZLEISYNC_LANG", "de")
	os.Exit(m.Run())
}
