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

/* An environment variable the harness must set. */
static inline const char *required_env(const char *name) {
  const char *value = getenv(name);
  if (value == NULL || value[0] == '\0') {
    fprintf(stderr, "environment variable %s is not set (run me through tests/c_api.rs)\n",
            name);
    exit(1);
  }
  return value;
}

static inline int checks_passed(const char *program) {
  printf("%s: all %lu checks passed\n", program, checks_run);
  return 0;
}

#endif /* OAUTH2CC_TEST_CHECK_H */
