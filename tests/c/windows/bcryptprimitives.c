/*
 * bcryptprimitives.c: a stand-in for Windows 10's bcryptprimitives.dll, for the Wine test
 * runs only (tests/c/harness.rs builds it next to the test programs; it is never packaged).
 *
 * Rust's standard library gets its random bytes from ProcessPrng, which Windows 10 and later
 * export from bcryptprimitives.dll. Wine 8 (Debian 12) has no such DLL, so every Rust DLL
 * fails to load there. This one forwards ProcessPrng to RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has.
 *
 *   x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
