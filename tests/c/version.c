/*
 * version.c: the version a program was compiled against (the header's macros) and the
 * version of the library it runs with (oauth2cc_version()) agree, and the macros agree with
 * each other. tests/header.rs checks the printed version against Cargo.toml.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

int main(void) {
  char joined[64];
  const char *library = oauth2cc_version();

  CHECK(library != NULL);
  printf("library %s\n", library);
  printf("header %s\n", OAUTH2CC_VERSION_STRING);
  printf("number %ld\n", (long)OAUTH2CC_VERSION_NUMBER);

  CHECK_STR(library, OAUTH2CC_VERSION_STRING);
  snprintf(joined, sizeof joined, "%d.%d.%d", OAUTH2CC_VERSION_MAJOR, OAUTH2CC_VERSION_MINOR,
           OAUTH2CC_VERSION_PATCH);
  CHECK_STR(joined, OAUTH2CC_VERSION_STRING);
  CHECK_INT(OAUTH2CC_VERSION_NUMBER, OAUTH2CC_VERSION_MAJOR * 10000L +
                                         OAUTH2CC_VERSION_MINOR * 100L + OAUTH2CC_VERSION_PATCH);
  /* The same static text every time. */
  CHECK(oauth2cc_version() == library);
  CHECK_STR(OAUTH2CC_SPOTIFY_TOKEN_URL, "https://accounts.spotify.com/api/token");
  return checks_passed("version");
}
