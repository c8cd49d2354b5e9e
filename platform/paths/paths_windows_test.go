package paths_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"

	"kanzleisync/app/testsupport"
	"kanzleisync/platform/paths"
)

// A data directory whose ACL lets the users read (a folder IT made for
// everybody, a --data-dir on a share) gets an ACL of its own: only the
// user, SYSTEM and the administrators; a file written into it afterwards
// inherits it. A new one is private from the start.
func TestDataDirIsPrivateOnWindows(t *testing.T) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	user := tu.User.Sid.String()
	open := filepath.Join(testsupport.TempDir(t), "fuer-alle")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	// read and execute for BUILTIN\Users, as a shared folder has
	if err := paths.SetDirACL(open, "D:P(A;OICI;FA;;;"+user+")(A;OICI;0x1200a9;;;BU)(A;OICI;0x1200a9;;;WD)"); err != nil {
		t.Fatal(err)
	}
	if private, err := paths.IsPrivateDir(open, user); err != nil || private {
		t.Fatalf("a folder open to Users and Everyone counts as private (%v): the check sees nothing", err)
	}
	// Wine 8 answers a file's DACL from its Unix mode and accepts a new
	// one without keeping it: there only the check above can be proven
	probe := filepath.Join(testsupport.TempDir(t), "probe")
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := paths.SetDirACL(probe, "D:P(A;OICI;FA;;;"+user+")"); err != nil {
		t.Fatal(err)
	}
	if private, _ := paths.IsPrivateDir(probe, user); !private {
		if _, err := paths.Ensure(open); err != nil {
			t.Fatalf("Ensure on a folder open to others: %v", err)
		}
		t.Skip("this Windows (Wine) does not keep a directory's DACL; the foreign ACEs were seen, the ACL after Ensure cannot be checked here")
	}
	for _, dir := range []string{open, filepath.Join(testsupport.TempDir(t), "neu", "data")} {
		if _, err := paths.Ensure(dir); err != nil {
			t.Fatal(err)
		}
		if private, err := paths.IsPrivateDir(dir, user); err != nil || !private {
			t.Errorf("%s after Ensure: private %v (%v)", dir, private, err)
		}
		f := filepath.Join(dir, "kanzleisync.db")
		if err := os.WriteFile(f, []byte("zustand"), 0o600); err != nil {
			t.Fatal(err)
		}
		if private, err := paths.IsPrivateDir(f, user); err != nil || !private {
			t.Errorf("%s: a file in the data directory is open to others (%v)", f, err)
		}
	}
}
