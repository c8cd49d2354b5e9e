# Sourced by .ci/wine-smoke and .ci/wine-tests.
# new_wine_prefix DIR LABEL — a throwaway 64-bit Wine prefix in DIR, with the
# stand-in bcryptprimitives.dll where Wine lacks it (Wine 8.0: the Go
# runtime cannot start without its ProcessPrng). Exports WINEPREFIX.
new_wine_prefix() {
  export WINEPREFIX=$1 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
  wine wineboot -i >/dev/null 2>&1 || { echo "$2: wineboot could not create the prefix" >&2; return 1; }
  wineserver -w # the prefix's first services have settled
  # a wineserver that stays: one that exits when idle races the next
  # program's start („wine client error:0: recvmsg: Connection reset by
  # peer“); the caller ends it with wineserver -k
  wineserver -p
  # and its services started here, with nothing to inherit: started by a
  # test binary they would hold its output open past its end („Test I/O
  # incomplete 1m30s after exiting“)
  wine cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
  local sys32=$WINEPREFIX/drive_c/windows/system32
  if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$sys32/bcryptprimitives.dll" .ci/wine/bcryptprimitives.c .ci/wine/bcryptprimitives.def -lbcrypt \
      || { echo "$2: the stand-in bcryptprimitives.dll did not build" >&2; return 1; }
    echo "$2: $(wine --version): stand-in bcryptprimitives.dll installed"
  fi
}
