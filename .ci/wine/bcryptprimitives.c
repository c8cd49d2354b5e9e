/* Stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks: Go >= 1.24
   calls its ProcessPrng at start. Forwards to BCryptGenRandom (.ci/wine-smoke). */
#include <windows.h>
#include <bcrypt.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
