package paths

import (
	"os"

	"golang.org/x/sys/windows"
)

// EnsurePolicyDir creates the directory of the IT policy file
// (%ProgramData%\kanzleisync) with an ACL of its own instead of
// ProgramData's, under which every user may create files — a user could
// otherwise write the policy that binds the others: full control for SYSTEM
// and the administrators, read for the users. The service's own folder
// (server\) keeps its stricter ACL: it is protected from inheritance.
func EnsurePolicyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// 0x1200a9: FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
	return SetDirACL(dir, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)")
}

// SetDirACL gives dir the DACL of sddl (SDDL), protected from what its
// parent would pass down.
func SetDirACL(dir, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}
