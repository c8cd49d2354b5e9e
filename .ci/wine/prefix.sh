# Sourced by .ci/wine-smoke and .ci/wine-tests.
# new_wine_prefix DIR LABEL — a throwaway 64-bit Wine prefix in DIR, with the
# stand-in bcryptprimitives.dll where Wine lacks it (Wine 8.0: the Go
# runtime cannot start without its ProcessPrng). Exports WINEPREFIX.
new_wine_prefix() {
  export WINEPREFIX=$1 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
  # wineboot fails now and then on a loaded machine (seen once in CI's
  # fresh run): a second try in a clean directory, after its wineserver ended
  if ! wine wineboot -i >"$1.wineboot.log" 2>&1; then
    echo "$2: wineboot failed ($(tail -1 "$1.wineboot.log")); trying once more" >&2
    wineserver -k 2>/dev/null || true
    rm -rf "$1"
    wine wineboot -i >"$1.wineboot.log" 2>&1 || { echo "$2: wineboot could not create the prefix: $(tail -3 "$1.wineboot.log" | tr '\n' ' ')" >&2; return 1; }
  fi
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
