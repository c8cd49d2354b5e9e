package paths

import (
	"slices"
	"unsafe"

	"golang.org/x/sys/windows"

	"kanzleisync/app/text"
)

// privateSIDs may have access to a private directory: the owner (the
// user), SYSTEM, the administrators, as in the user's profile, and the
// placeholders CREATOR OWNER and OWNER RIGHTS.
var privateSIDs = []string{"S-1-5-18", "S-1-5-32-544", "S-1-3-0", "S-1-3-4"}

// makePrivate gives dir an ACL of its own when its ACL lets anyone else
// in (a --data-dir on a share, a folder IT made for everybody): full
// control for the user, SYSTEM and the administrators, protected from
// what the parent passes down; the files in it inherit it. A directory in
// the user's profile already is private and is left as it is.
func makePrivate(dir string) error {
	user, err := currentUserSID()
	if err != nil {
		return err
	}
	if private, err := IsPrivateDir(dir, user); err == nil && private {
		return nil
	}
	if err := SetDirACL(dir, "D:P(A;OICI;FA;;;"+user+")(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"); err != nil {
		return text.Errorf("Das Datenverzeichnis %s ist für andere Benutzer lesbar und lässt sich nicht auf „nur für mich“ stellen (%v). Bitte ein eigenes Verzeichnis angeben oder die Rechte von der IT-Betreuung setzen lassen (Vollzugriff nur für den Benutzer, SYSTEM und die Administratoren).", dir, err)
	}
	return nil
}

func currentUserSID() (string, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", err
	}
	return tu.User.Sid.String(), nil
}

// IsPrivateDir reports whether dir's ACL allows nobody but user and
// privateSIDs in. A missing (NULL) DACL allows everyone.
func IsPrivateDir(dir, user string) (bool, error) {
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return false, err
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return false, err
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return false, err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			continue // a deny takes away, it never lets anyone in
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart)).String()
		if sid != user && !slices.Contains(privateSIDs, sid) {
			return false, nil
		}
	}
	return true, nil
}
