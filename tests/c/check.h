/*
 * check.h: the few lines of test scaffolding shared by the C consumer tests in tests/c/.
 *
 * CHECK(expr) prints file:line and the failing expression and exits 1. The other macros
 * are CHECK with a more useful message. A program ends with checks_passed(), which prints
 * "<name>: all N checks passed"; the Rust harness (tests/c_api.rs) looks for that line, so a
 * program that stops early without failing a CHECK is still noticed.
 */
#ifndef OAUTH2CC_TEST_CHECK_H
#define OAUTH2CC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth2cc.h"

static unsigned long checks_run = 0;

#define FAIL_AT(...)                                      \
  do {                                                    \
    fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                         \
    fputc('\n', stderr);                                  \
    exit(1);                                              \
  } while (0)

#define CHECK(expr)                     \
  do {                                  \
    ++checks_run;                       \
    if (!(expr)) FAIL_AT("%s", #expr);  \
  } while (0)

/* A call's status, with the status names and the last error message when it differs. */
#define CHECK_STATUS(call, expected)                                                  \
  do {                                                                                \
    int got_ = (int)(call);                                                           \
    int want_ = (int)(expected);                                                      \
    ++checks_run;                                                                     \
    if (got_ != want_)                                                                \
      FAIL_AT("%s returned %s, expected %s (last error: \"%s\")", #call,             \
              oauth2cc_status_str(got_), oauth2cc_status_str(want_),                  \
              oauth2cc_last_error_message());                                         \
  } while (0)

/* Two C strings are equal; NULL equals only NULL. */
#define CHECK_STR(actual, expected)                                                   \
  do {                                                                                \
    const char *a_ = (actual);                                                        \
    const char *e_ = (expected);                                                      \
    ++checks_run;                                                                     \
    if ((a_ == NULL) != (e_ == NULL) || (a_ != NULL && strcmp(a_, e_) != 0))          \
      FAIL_AT("%s is %s%s%s, expected %s%s%s", #actual, a_ ? "\"" : "",               \
              a_ ? a_ : "NULL", a_ ? "\"" : "", e_ ? "\"" : "", e_ ? e_ : "NULL",     \
              e_ ? "\"" : "");                                                        \
  } while (0)

/* `haystack` is a non-NULL string containing `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                              \
  do {                                                                                \
    const char *h_ = (haystack);                                                      \
    ++checks_run;                                                                     \
    if (h_ == NULL || strstr(h_, (needle)) == NULL)                                   \
      FAIL_AT("%s (\"%s\") does not contain \"%s\"", #haystack, h_ ? h_ : "NULL",     \
              (needle));                                                              \
  } while (0)

/* Two integers are equal. */
#define CHECK_INT(actual, expected)                                                   \
  do {                                                                                \
    long long a_ = (long long)(actual);                                               \
    long long e_ = (long long)(expected);                                             \
    ++checks_run;                                                                     \
    if (a_ != e_) FAIL_AT("%s is %lld, expected %lld", #actual, a_, e_);              \
  } while (0)

/* The separator of the paths the harness hands over: Windows programs (built with MinGW-w64
 * and run under Wine by tests/windows.rs) get Windows paths such as Z:\work\target\x. */
#ifdef _WIN32
#define PATH_SEP "\\"
#else
#define PATH_SEP "/"
#endif

/* `dir` PATH_SEP `name` into `buf`, which must be large enough. */
static inline const char *join_path(char *buf, size_t size, const char *dir, const char *name) {
  int n = snprintf(buf, size, "%s%s%s", dir, PATH_SEP, name);
  if (n < 0 || (size_t)n >= size) {
    fprintf(stderr, "path too long: %s%s%s\n", dir, PATH_SEP, name);
    exit(1);
  }
  return buf;
}

#ifdef _WIN32
#include <windows.h>
/* getenv on Windows gives the ANSI code page, which cannot spell every file name: read the
 * UTF-16 environment and convert it to UTF-8, what the library takes. The copy is never
 * freed. */
static inline const char *getenv_utf8(const char *name) {
  wchar_t wide_name[256];
  wchar_t *wide;
  DWORD len;
  char *value;
  int n;
  if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wide_name, 256) == 0) return NULL;
  len = GetEnvironmentVariableW(wide_name, NULL, 0);
  if (len == 0) return NULL;
  wide = (wchar_t *)malloc(len * sizeof *wide);
  if (wide == NULL || GetEnvironmentVariableW(wide_name, wide, len) != len - 1) exit(2);
  n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
  value = n > 0 ? (char *)malloc((size_t)n) : NULL;
  if (value == NULL || WideCharToMultiByte(CP_UTF8, 0, wide, -1, value, n, NULL, NULL) != n)
    exit(2);
  free(wide);
  return value;
}
#else
#define getenv_utf8 getenv
#endif

/* An environment variable the harness must set, as UTF-8. */
static inline const char *required_env(const char *name) {
  const char *value = getenv_utf8(name);
  if (value == NULL || value[0] == '\0') {
    fprintf(stderr, "environment variable %s is not set (run me through tests/c_api.rs)\n",
            name);
    exit(1);
  }
  return value;
}

/* A config for `id`/`secret`, the token endpoint `base` + `token_path` and `timeout_ms`; the
 * caller adds settings and hands it to client_from (or frees it). */
static inline oauth2cc_config *test_config(const char *id, const char *secret, const char *base,
                                           const char *token_path, uint32_t timeout_ms) {
  char url[512];
  oauth2cc_config *config = NULL;
  int n = snprintf(url, sizeof url, "%s%s", base, token_path);
  CHECK(n > 0 && (size_t)n < sizeof url);
  CHECK_STATUS(oauth2cc_config_new(id, secret, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, timeout_ms), OAUTH2CC_STATUS_OK);
  return config;
}

/* A client made from `config`, which is then freed. */
static inline oauth2cc_client *client_from(oauth2cc_config *config) {
  oauth2cc_client *client = NULL;
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  oauth2cc_config_free(config);
  return client;
}

/* A token from `client`: OK, with `expected` as its access token unless that is NULL; the
 * token is freed. */
static inline void check_client_token(oauth2cc_client *client, const char *expected) {
  oauth2cc_authorization *auth = NULL;
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  if (expected != NULL) CHECK_STR(oauth2cc_authorization_access_token(auth), expected);
  oauth2cc_authorization_free(auth);
}

static inline int checks_passed(const char *program) {
  printf("%s: all %lu checks passed\n", program, checks_run);
  return 0;
}

#endif /* OAUTH2CC_TEST_CHECK_H */
