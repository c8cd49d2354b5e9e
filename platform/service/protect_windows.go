package service

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"

	"kanzleisync/platform/paths"
)

// protect encrypts b with DPAPI for this machine (CRYPTPROTECT_LOCAL_MACHINE):
// any account of this computer may decrypt it — the service runs as
// LocalSystem, not as the installing administrator — and no other computer
// can. The directory's ACL (RestrictDir) keeps other accounts from the file.
func protect(b []byte) ([]byte, error) {
	return dpapi(b, true)
}

func unprotect(b []byte) ([]byte, error) {
	return dpapi(b, false)
}

func dpapi(b []byte, seal bool) ([]byte, error) {
	if len(b) == 0 {
		return nil, windows.ERROR_INVALID_DATA
	}
	in := windows.DataBlob{Size: uint32(len(b)), Data: &b[0]}
	var out windows.DataBlob
	flags := uint32(windows.CRYPTPROTECT_UI_FORBIDDEN)
	var err error
	if seal {
		err = windows.CryptProtectData(&in, nil, nil, 0, nil, flags|windows.CRYPTPROTECT_LOCAL_MACHINE, &out)
	} else {
		err = windows.CryptUnprotectData(&in, nil, nil, 0, nil, flags, &out)
	}
	if err != nil {
		return nil, err
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...), nil
}

// RestrictDir creates dir and gives it an ACL of its own, not inherited from
// ProgramData (where every user may read): full control for SYSTEM and the
// administrators, nothing for anyone else.
func RestrictDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return paths.SetDirACL(dir, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
}
